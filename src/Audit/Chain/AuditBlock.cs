using System.Text.Json.Serialization;

namespace Holdfast.Audit.Chain;

/// <summary>
/// Consecutive entries stored together: what one chaining step appends, kept as one record so that appending a batch
/// of entries costs the store one write, not one per entry. The block is only storage: every entry keeps its own
/// sequence, previous hash and hash, and a verifier reads the entries, not the blocks.
/// </summary>
public sealed record AuditBlock
{
    /// <summary>The entries in sequence order; never empty.</summary>
    [JsonPropertyName("entries")]
    public required IReadOnlyList<AuditEntry> Entries { get; init; }
}
