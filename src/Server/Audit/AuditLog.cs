using System.Runtime.CompilerServices;
using Holdfast.Audit.Chain;
using Holdfast.Audit.Export;
using Holdfast.State;

namespace Holdfast.Server.Audit;

/// <summary>
/// Reads the chained activity log out of a store: entries in sequence order — single entries (schema 1) and blocks
/// (schema 2) merged — checkpoints and the retention anchor.
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
    /// The stored records of entries after <paramref name="afterSequence"/> (0: all), in sequence order, each with only
    /// its entries past <paramref name="afterSequence"/>: single entries (schema 1) and blocks (schema 2) merged by
    /// sequence, since a replica of an earlier release may have chained single entries between blocks. A record that
    /// does not parse comes back with its <see cref="StoredEntries.Problem"/>, for the caller to report or skip.
    /// </summary>
    internal static async IAsyncEnumerable<StoredEntries> StoredAsync(IStateStore store, long afterSequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // A block's key is its last sequence, so the first block past the one ending at afterSequence holds what follows.
        var after = afterSequence > 0 ? afterSequence : (long?)null;
        await using var singles = StoredUnderAsync(store, AuditKeys.EntriesPrefix, after is { } s ? AuditKeys.Entry(s) : null, PageSize, afterSequence, SingleEntry, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using var blocks = StoredUnderAsync(store, AuditKeys.BlocksPrefix, after is { } b ? AuditKeys.Block(b) : null, BlocksPerPage, afterSequence, BlockEntries, cancellationToken).GetAsyncEnumerator(cancellationToken);
        var single = await singles.MoveNextAsync().ConfigureAwait(false);
        var block = await blocks.MoveNextAsync().ConfigureAwait(false);
        while (single || block)
        {
            if (single && (!block || FirstSequence(singles.Current) <= FirstSequence(blocks.Current)))
            {
                yield return singles.Current;
                single = await singles.MoveNextAsync().ConfigureAwait(false);
            }
            else
            {
                yield return blocks.Current;
                block = await blocks.MoveNextAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The stored record holding the first entry, or null when the log is empty: one key read per prefix.</summary>
    internal static async Task<StoredEntries?> FirstStoredAsync(IStateStore store, CancellationToken cancellationToken)
    {
        var single = (await store.RangeAsync(new RangeRequest(AuditKeys.EntriesPrefix, 1), cancellationToken).ConfigureAwait(false)).Items;
        var block = (await store.RangeAsync(new RangeRequest(AuditKeys.BlocksPrefix, 1), cancellationToken).ConfigureAwait(false)).Items;
        var first = single.Count > 0 ? Read(single[0], AuditKeys.EntriesPrefix, 0, SingleEntry) : null;
        var firstBlock = block.Count > 0 ? Read(block[0], AuditKeys.BlocksPrefix, 0, BlockEntries) : null;
        return first is null || (firstBlock is not null && FirstSequence(firstBlock) < FirstSequence(first)) ? firstBlock : first;
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

    private static async IAsyncEnumerable<StoredEntries> StoredUnderAsync(IStateStore store, string prefix, string? startAfter, int pageSize, long afterSequence, Func<ReadOnlyMemory<byte>, IReadOnlyList<AuditEntry>> deserialize, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var kv in RangeAllAsync(store, prefix, startAfter, cancellationToken, pageSize).ConfigureAwait(false))
        {
            yield return Read(kv, prefix, afterSequence, deserialize);
        }
    }

    /// <summary>Where a stored record starts in the chain (what its key names when it does not parse).</summary>
    private static long FirstSequence(StoredEntries stored) => stored.Entries is { Count: > 0 } entries ? entries[0].Sequence : stored.LastSequence;

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
    internal static async IAsyncEnumerable<KeyValue> RangeAllAsync(IStateStore store, string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken, int pageSize = PageSize)
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
