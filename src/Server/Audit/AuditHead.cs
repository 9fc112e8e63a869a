using System.Text.Json.Serialization;

namespace Holdfast.Server.Audit;

/// <summary>The chain's tip as stored at <see cref="AuditKeys.Head"/>: every chaining transaction compares and rewrites it.</summary>
internal sealed record AuditHead
{
    [JsonPropertyName("sequence")]
    public required long Sequence { get; init; }

    [JsonPropertyName("hash")]
    public required string Hash { get; init; }

    [JsonPropertyName("lastCheckpoint")]
    public long LastCheckpoint { get; init; }
}
