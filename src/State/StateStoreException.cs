namespace Holdfast.State;

/// <summary>
/// An unexpected store failure. <see cref="IsTransient"/> tells callers (the reconcile loop, request retries)
/// whether trying again later may succeed, as Npgsql's exceptions do.
/// </summary>
public class StateStoreException : Exception
{
    public StateStoreException()
    {
    }

    public StateStoreException(string message)
        : base(message)
    {
    }

    public StateStoreException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public StateStoreException(string message, bool isTransient, Exception? innerException = null)
        : base(message, innerException)
    {
        IsTransient = isTransient;
    }

    public bool IsTransient { get; }
}

/// <summary>A watch asked for history that compaction has discarded; restart from a fresh range (as etcd's ErrCompacted).</summary>
public sealed class RevisionCompactedException : StateStoreException
{
    public RevisionCompactedException()
    {
    }

    public RevisionCompactedException(string message)
        : base(message)
    {
    }

    public RevisionCompactedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public RevisionCompactedException(long requestedRevision, long compactedRevision)
        : base($"The required revision {requestedRevision} has been compacted; the oldest available is {compactedRevision + 1}.")
    {
        RequestedRevision = requestedRevision;
        CompactedRevision = compactedRevision;
    }

    public long RequestedRevision { get; }

    public long CompactedRevision { get; }
}
