namespace Holdfast.State;

/// <summary>
/// A prefix range. <see cref="Limit"/> 0 means no limit. <see cref="StartAfter"/> is exclusive. <see cref="Revision"/>
/// 0 reads the newest revision; otherwise the keys as they were at that revision, so the pages of one large range
/// (a backup) all read one snapshot. A store that no longer holds that revision throws
/// <see cref="RevisionCompactedException"/> (SQLite keeps only the newest values, so any older revision counts as
/// compacted there; etcd keeps history until compaction); a revision above the newest is an
/// <see cref="ArgumentOutOfRangeException"/>.
/// </summary>
public sealed record RangeRequest(string Prefix, int Limit = 0, string? StartAfter = null, long Revision = 0);

/// <summary>
/// One page of a range. <see cref="Revision"/> is the store revision the snapshot was read at.
/// <see cref="ContinueAfter"/> is set (to the last returned key) exactly when more keys follow.
/// </summary>
public sealed record RangeResult(IReadOnlyList<KeyValue> Items, long Revision, string? ContinueAfter)
{
    public bool More => ContinueAfter is not null;
}

/// <summary>
/// Outcome of a single-key write. When <see cref="Succeeded"/> is false, <see cref="Current"/> is the key's value as it
/// was (null when absent) and <see cref="Revision"/> the store revision at which that was observed.
/// When it is true, <see cref="Current"/> is the value written (null after a delete) and <see cref="Revision"/> the new revision.
/// </summary>
public sealed record WriteResult(bool Succeeded, long Revision, KeyValue? Current);

public sealed record LeaseGrant(long Id, TimeSpan Ttl);

public enum WatchEventType
{
    Put,
    Delete,
}

/// <summary>
/// One change. For a delete, <see cref="Kv"/> carries the key, an empty value and the deleting revision as its
/// <see cref="KeyValue.ModRevision"/>; <see cref="Revision"/> is always the revision of the change.
/// </summary>
public sealed record WatchEvent(WatchEventType Type, KeyValue Kv)
{
    public long Revision => Kv.ModRevision;
}
