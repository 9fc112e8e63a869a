using Holdfast.Audit.Chain;
using Holdfast.Audit.Export;
using Holdfast.State;

namespace Holdfast.Server.Audit;

/// <summary>
/// Reads the chained activity log out of a store: entries in stored (key) order — single entries from before blocks
/// first, then blocks — checkpoints and the retention anchor.
/// </summary>
public static class AuditLog
{
    private const int PageSize = 1000;

    // A block holds up to one chaining batch (256 entries, ≈ 200 KB): a few per range keep a reply small.
    private const int BlocksPerPage = 4;

    /// <summary>Everything the chainer has written, as <see cref="Holdfast.Audit.Verification.AuditVerifier"/> and <see cref="AuditExport"/> take it.</summary>
    public static async Task<AuditExportContent> ReadAsync(IStateStore store, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var entries = new List<AuditEntry>();
        await foreach (var stored in StoredAsync(store, 0, cancellationToken).ConfigureAwait(false))
        {
            entries.AddRange(stored.Entries ?? throw Unreadable(stored.Key, stored.Problem!));
        }

        var checkpoints = new List<AuditCheckpoint>();
        await foreach (var kv in RangeAllAsync(store, AuditKeys.CheckpointsPrefix, null, cancellationToken).ConfigureAwait(false))
        {
            checkpoints.Add(Parse(kv, AuditJson.DeserializeCheckpoint));
        }

        var anchor = await store.GetAsync(AuditKeys.Anchor, cancellationToken).ConfigureAwait(false);
        return new AuditExportContent(entries, checkpoints, anchor is null ? null : Parse(anchor, AuditJson.DeserializeCheckpoint));
    }

    /// <summary>
    /// The stored records of entries after <paramref name="afterSequence"/> (0: all), in key order: single entries
    /// from before blocks, then blocks, each with only its entries past <paramref name="afterSequence"/>. A record that
    /// does not parse comes back with its <see cref="StoredEntries.Problem"/>, for the caller to report or skip.
    /// </summary>
    internal static async IAsyncEnumerable<StoredEntries> StoredAsync(IStateStore store, long afterSequence, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var legacyAfter = afterSequence > 0 ? AuditKeys.Entry(afterSequence) : null;
        await foreach (var kv in RangeAllAsync(store, AuditKeys.EntriesPrefix, legacyAfter, cancellationToken).ConfigureAwait(false))
        {
            yield return Read(kv, AuditKeys.EntriesPrefix, afterSequence, SingleEntry);
        }

        // A block's key is its last sequence, so the first block past the one ending at afterSequence holds what follows.
        var blocksAfter = afterSequence > 0 ? AuditKeys.Block(afterSequence) : null;
        await foreach (var kv in RangeAllAsync(store, AuditKeys.BlocksPrefix, blocksAfter, cancellationToken, BlocksPerPage).ConfigureAwait(false))
        {
            yield return Read(kv, AuditKeys.BlocksPrefix, afterSequence, BlockEntries);
        }
    }

    /// <summary>The stored record holding entry <paramref name="sequence"/>, or null when none does.</summary>
    internal static async Task<StoredEntries?> StoredWithAsync(IStateStore store, long sequence, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(AuditKeys.Entry(sequence), cancellationToken).ConfigureAwait(false) is { } legacy)
        {
            return Read(legacy, AuditKeys.EntriesPrefix, 0, SingleEntry);
        }

        var page = await store.RangeAsync(new RangeRequest(AuditKeys.BlocksPrefix, 1, AuditKeys.Block(sequence - 1)), cancellationToken).ConfigureAwait(false);
        return page.Items.Count == 0 ? null : Read(page.Items[0], AuditKeys.BlocksPrefix, 0, BlockEntries);
    }

    private static IReadOnlyList<AuditEntry> SingleEntry(ReadOnlyMemory<byte> value) => [AuditJson.DeserializeEntry(value.Span)];

    private static IReadOnlyList<AuditEntry> BlockEntries(ReadOnlyMemory<byte> value) => AuditJson.DeserializeBlock(value.Span).Entries;

    private static StoredEntries Read(KeyValue kv, string prefix, long afterSequence, Func<ReadOnlyMemory<byte>, IReadOnlyList<AuditEntry>> deserialize)
    {
        var lastSequence = AuditKeys.SequenceOf(kv.Key, prefix);
        try
        {
            var entries = deserialize(kv.Value);
            return new StoredEntries(kv.Key, lastSequence, afterSequence > 0 ? [.. entries.Where(e => e.Sequence > afterSequence)] : entries, null);
        }
        catch (System.Text.Json.JsonException ex)
        {
            return new StoredEntries(kv.Key, lastSequence, null, ex);
        }
    }

    private delegate T Deserializer<out T>(ReadOnlySpan<byte> utf8Json);

    /// <summary>A stored record that is not even well-formed was edited by hand: say which key, for the operator.</summary>
    private static T Parse<T>(KeyValue kv, Deserializer<T> deserialize)
    {
        try
        {
            return deserialize(kv.Value.Span);
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw Unreadable(kv.Key, ex);
        }
    }

    private static InvalidDataException Unreadable(string key, Exception problem) =>
        new($"The stored activity-log record '{key}' is not readable ({problem.Message}): it was edited outside Holdfast.", problem);

    /// <summary>Every key under <paramref name="prefix"/> after <paramref name="startAfter"/>, a page at a time.</summary>
    internal static async IAsyncEnumerable<KeyValue> RangeAllAsync(IStateStore store, string prefix, string? startAfter, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken, int pageSize = PageSize)
    {
        var after = startAfter;
        while (true)
        {
            var page = await store.RangeAsync(new RangeRequest(prefix, pageSize, after), cancellationToken).ConfigureAwait(false);
            foreach (var kv in page.Items)
            {
                yield return kv;
            }

            if (!page.More)
            {
                yield break;
            }

            after = page.ContinueAfter;
        }
    }
}

/// <summary>
/// One stored record of chained entries: a block, or a single entry from before blocks. <see cref="LastSequence"/> is
/// what the key names (-1 for a key Holdfast did not write); <see cref="Entries"/> is null when the value does not
/// parse, and <see cref="Problem"/> then says why.
/// </summary>
internal sealed record StoredEntries(string Key, long LastSequence, IReadOnlyList<AuditEntry>? Entries, Exception? Problem);
