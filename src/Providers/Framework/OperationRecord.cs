using System.Text.Json;
using System.Text.Json.Serialization;
using Holdfast.Resources.Errors;

namespace Holdfast.Providers.Framework;

/// <summary>
/// A long-running operation as ARM's status monitors show it. Stored under <see cref="ResourceKeys.Operation"/>; the
/// reconciler that finishes the work moves it to a terminal status in the same transaction as the resource.
/// </summary>
public sealed record OperationRecord
{
    public const string InProgress = "InProgress";

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

    public bool IsTerminal => !string.Equals(Status, InProgress, StringComparison.Ordinal);

    public OperationRecord Complete(string status, DateTimeOffset endTime, ApiError? error = null) =>
        this with { Status = status, EndTime = endTime, Error = error };

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, ProvidersJsonContext.Default.OperationRecord);

    public static OperationRecord Deserialize(ReadOnlyMemory<byte> bytes) =>
        JsonSerializer.Deserialize(bytes.Span, ProvidersJsonContext.Default.OperationRecord)
        ?? throw new JsonException("An operation record is null.");
}

[JsonSerializable(typeof(OperationRecord))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class ProvidersJsonContext : JsonSerializerContext;
