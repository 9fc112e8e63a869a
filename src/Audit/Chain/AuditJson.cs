using System.Text.Json;

namespace Holdfast.Audit.Chain;

/// <summary>
/// The stored JSON of entries, blocks of entries and checkpoints (System.Text.Json, source-generated). Member names are fixed by
/// attributes, nulls are omitted, unknown members are ignored on read so newer writers stay readable, and a missing
/// required member or a <c>null</c> where none is allowed is a <see cref="JsonException"/>.
/// </summary>
public static class AuditJson
{
    public static byte[] Serialize(AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return JsonSerializer.SerializeToUtf8Bytes(entry, AuditJsonContext.Default.AuditEntry);
    }

    public static byte[] Serialize(AuditBlock block)
    {
        ArgumentNullException.ThrowIfNull(block);
        return JsonSerializer.SerializeToUtf8Bytes(block, AuditJsonContext.Default.AuditBlock);
    }

    public static byte[] Serialize(AuditCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return JsonSerializer.SerializeToUtf8Bytes(checkpoint, AuditJsonContext.Default.AuditCheckpoint);
    }

    public static AuditEntry DeserializeEntry(ReadOnlySpan<byte> utf8Json) =>
        JsonSerializer.Deserialize(utf8Json, AuditJsonContext.Default.AuditEntry)
        ?? throw new JsonException("An audit entry cannot be null.");

    public static AuditBlock DeserializeBlock(ReadOnlySpan<byte> utf8Json)
    {
        var block = JsonSerializer.Deserialize(utf8Json, AuditJsonContext.Default.AuditBlock)
            ?? throw new JsonException("An audit block cannot be null.");
        return block.Entries.Count > 0 && block.Entries.All(e => e is not null)
            ? block
            : throw new JsonException("An audit block holds at least one entry and no nulls.");
    }

    public static AuditCheckpoint DeserializeCheckpoint(ReadOnlySpan<byte> utf8Json) =>
        JsonSerializer.Deserialize(utf8Json, AuditJsonContext.Default.AuditCheckpoint)
        ?? throw new JsonException("An audit checkpoint cannot be null.");
}
