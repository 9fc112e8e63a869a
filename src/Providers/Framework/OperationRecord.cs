using System.Text.Json;
using System.Text.Json.Serialization;
using Holdfast.Resources.Errors;

namespace Holdfast.Providers.Framework;

/// <summary>
/// A long-running operation as ARM's status monitors show it. Stored under <see cref="ResourceKeys.Operation"/>; the
/// reconciler that finishes the work moves it to a terminal status in the same transaction as the resource.
/// Schema (<see cref="SchemaLevels.Operation"/>): version 2 stores <see cref="ProviderNamespace"/>, which a version 1
/// record gains on read from its resource id.
/// </summary>
public sealed record OperationRecord
{
    public const string InProgress = "InProgress";

    /// <summary>The newest schema version of an operation record this release knows.</summary>
    public static int LatestVersion => SchemaLevels.Latest[SchemaLevels.Operation];

    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary>The status monitor path (<c>Azure-AsyncOperation</c>) without host or query.</summary>
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("status")]
    public required string Status { get; init; }

    [JsonPropertyName("startTime")]
    public required DateTimeOffset StartTime { get; init; }

    [JsonPropertyName("endTime")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? EndTime { get; init; }

    [JsonPropertyName("error")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ApiError? Error { get; init; }

    [JsonPropertyName("resourceId")]
    public required string ResourceId { get; init; }

    /// <summary><c>write</c>, <c>delete</c> or an action name.</summary>
    [JsonPropertyName("kind")]
    public required string Kind { get; init; }

    /// <summary>The subscription that owns the operation; status polls from other subscriptions are refused.</summary>
    [JsonPropertyName("subscriptionId")]
    public required string SubscriptionId { get; init; }

    /// <summary>The namespace of the operation's resource (<c>Microsoft.Network</c>), or null for a group or subscription; polls are authorized in it.</summary>
    [JsonPropertyName("providerNamespace")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ProviderNamespace { get; init; }

    /// <summary>The schema version this record was read at (not stored).</summary>
    [JsonIgnore]
    public int StoredVersion { get; init; } = 1;

    public bool IsTerminal => !string.Equals(Status, InProgress, StringComparison.Ordinal);

    public OperationRecord Complete(string status, DateTimeOffset endTime, ApiError? error = null) =>
        this with { Status = status, EndTime = endTime, Error = error };

    /// <summary>The stored form at schema <paramref name="version"/> (version 1 has no <c>providerNamespace</c>).</summary>
    public byte[] Serialize(int version) => version <= 1
        ? JsonSerializer.SerializeToUtf8Bytes(this with { ProviderNamespace = null }, ProvidersJsonContext.Default.OperationRecord)
        : StoredSchema.Mark(JsonSerializer.SerializeToUtf8Bytes(this, ProvidersJsonContext.Default.OperationRecord), 2);

    /// <summary>
    /// Reads a stored record of any version up to <paramref name="supported"/>, migrated to the newest; a newer one
    /// throws <see cref="StoredSchemaTooNewException"/>.
    /// </summary>
    public static OperationRecord Deserialize(ReadOnlyMemory<byte> bytes, int supported)
    {
        var version = StoredSchema.Require(SchemaLevels.Operation, bytes.Span, supported);
        var record = JsonSerializer.Deserialize(StoredSchema.Strip(bytes).Span, ProvidersJsonContext.Default.OperationRecord)
            ?? throw new JsonException("An operation record is null.");
        return version >= 2 ? record with { StoredVersion = version } : record with { ProviderNamespace = NamespaceOf(record.ResourceId), StoredVersion = 1 };
    }

    /// <summary>The provider namespace of <paramref name="resourceId"/>, or null for a group or subscription.</summary>
    public static string? NamespaceOf(string resourceId) =>
        Holdfast.Resources.Ids.ResourceId.TryParse(resourceId, out var id, out _) ? id.ProviderNamespace : null;
}

[JsonSerializable(typeof(OperationRecord))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class ProvidersJsonContext : JsonSerializerContext;
