using Holdfast.State;

namespace Holdfast.Server.Audit;

/// <summary>
/// The pending activity-log records, kept by a list and then a watch of <see cref="AuditKeys.PendingPrefix"/> while the
/// chainer runs, so it never ranges that prefix per batch: on etcd every chained record leaves a tombstone in that
/// range until compaction, and a range walks them all, so its cost grew with every record chained since the last
/// compaction. The set only proposes what to chain: the chaining transaction still compares each record and the head,
/// and after any failed compare the chainer reads the prefix afresh.
/// </summary>
internal sealed class PendingRecords
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, KeyValue> _records = new(StringComparer.Ordinal);
    private bool _live;

    /// <summary>Whether the set follows the store (listed, then watching); otherwise callers range the prefix.</summary>
    public bool IsLive
    {
        get
        {
            lock (_gate)
            {
                return _live;
            }
        }
    }

    /// <summary>Lists the prefix and then applies its changes until cancelled or the watch fails (then not live).</summary>
    public async Task FollowAsync(IStateStore store, AuditChainSignal signal, CancellationToken cancellationToken)
    {
        try
        {
            // Pages may read different revisions; watching from the oldest replays what changed in between.
            var listed = new List<KeyValue>();
            long revision = long.MaxValue;
            string? after = null;
            do
            {
                var page = await store.RangeAsync(new RangeRequest(AuditKeys.PendingPrefix, Limit: 1000, StartAfter: after), cancellationToken).ConfigureAwait(false);
                revision = Math.Min(revision, page.Revision);
                listed.AddRange(page.Items);
                after = page.ContinueAfter;
            }
            while (after is not null);

            lock (_gate)
            {
                _records.Clear();
                foreach (var kv in listed)
                {
                    _records[kv.Key] = kv;
                }

                _live = true;
            }

            signal.Notify();
            await foreach (var change in store.WatchAsync(AuditKeys.PendingPrefix, revision, cancellationToken).ConfigureAwait(false))
            {
                lock (_gate)
                {
                    if (change.Type == WatchEventType.Put)
                    {
                        _records[change.Kv.Key] = change.Kv;
                    }
                    else
                    {
                        _records.Remove(change.Kv.Key);
                    }
                }

                if (change.Type == WatchEventType.Put)
                {
                    signal.Notify();
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _live = false;
                _records.Clear();
            }
        }
    }

    public List<KeyValue> Snapshot()
    {
        lock (_gate)
        {
            return [.. _records.Values];
        }
    }

    /// <summary>Forgets records just chained (their deletes reach the watch later).</summary>
    public void Chained(IEnumerable<KeyValue> records)
    {
        lock (_gate)
        {
            foreach (var kv in records)
            {
                _records.Remove(kv.Key);
            }
        }
    }
}
