namespace Holdfast.State.Sqlite;

/// <summary>
/// The committed rows of recently written keys, so a point read of a key just written (a read-modify-write, the next
/// update of a resource) does not go to SQLite: every commit makes each read connection drop its whole page cache, so
/// such a read otherwise costs several page reads from the WAL. Only the writer fills it, after a commit and before
/// that commit's callers are answered; from just before COMMIT until then <see cref="TryGet"/> misses, so a read
/// never returns a row older than a read connection would see. Deleted keys leave it. Two generations bound it: when
/// the newer one holds <c>capacity</c> keys it becomes the older one and the previous older one is dropped.
/// </summary>
internal sealed class RecentWrites(int capacity, int maxValueBytes)
{
    private readonly Lock _gate = new();
    private Dictionary<string, KeyValue> _newer = new(StringComparer.Ordinal);
    private Dictionary<string, KeyValue> _older = new(StringComparer.Ordinal);
    private bool _committing;

    /// <summary>The key's newest committed row, if it was written recently and no commit is in flight.</summary>
    public bool TryGet(string key, out KeyValue? kv)
    {
        lock (_gate)
        {
            if (!_committing && (_newer.TryGetValue(key, out var found) || _older.TryGetValue(key, out found)))
            {
                kv = found;
                return true;
            }
        }

        kv = null;
        return false;
    }

    /// <summary>Called right before COMMIT: reads go to SQLite until <see cref="Committed"/> or <see cref="Abandon"/>.</summary>
    public void Committing()
    {
        lock (_gate)
        {
            _committing = true;
        }
    }

    /// <summary>Applies a committed batch's changes and lets reads use the rows again.</summary>
    public void Committed(List<WatchEvent> events)
    {
        lock (_gate)
        {
            foreach (var change in events)
            {
                var key = change.Kv.Key;
                _older.Remove(key);
                if (change.Type == WatchEventType.Delete || change.Kv.Value.Length > maxValueBytes)
                {
                    _newer.Remove(key);
                    continue;
                }

                if (_newer.Count >= capacity && !_newer.ContainsKey(key))
                {
                    (_older, _newer) = (_newer, new Dictionary<string, KeyValue>(StringComparer.Ordinal));
                }

                _newer[key] = change.Kv;
            }

            _committing = false;
        }
    }

    /// <summary>After a failed COMMIT: forgets every row (whether the commit landed is not known) and lets reads through.</summary>
    public void Abandon()
    {
        lock (_gate)
        {
            _newer.Clear();
            _older.Clear();
            _committing = false;
        }
    }
}
