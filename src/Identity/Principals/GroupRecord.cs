using System.Text.Json;
using System.Text.Json.Serialization;

namespace Holdfast.Identity.Principals;

/// <summary>A security group: a named set of principals (by object id) that role assignments can name as one.</summary>
public sealed record GroupRecord
{
    [JsonPropertyName("tenantId")]
    public required string TenantId { get; init; }

    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("objectId")]
    public required string ObjectId { get; init; }

    [JsonPropertyName("displayName")]
    public required string DisplayName { get; init; }

    /// <summary>Object ids of the direct members (service principals, users or groups).</summary>
    [JsonPropertyName("members")]
    public required IReadOnlyList<string> Members { get; init; }

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, IdentityJsonContext.Default.GroupRecord);

    public static GroupRecord Deserialize(ReadOnlySpan<byte> bytes) =>
        JsonSerializer.Deserialize(bytes, IdentityJsonContext.Default.GroupRecord) ?? throw new JsonException("A group record is null.");
}
