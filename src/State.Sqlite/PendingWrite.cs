using System.Threading.Tasks.Sources;

namespace Holdfast.State.Sqlite;

/// <summary>
/// A request queued for the group-committing writer. <see cref="Apply"/> runs inside the batch's open SQLite
/// transaction and only stages a result; <see cref="Complete"/> publishes it after the commit is durable. An expected
/// rejection (an unknown lease) is staged as an error before anything is written; anything <see cref="Apply"/>
/// throws is unexpected and makes the writer roll the batch back and apply it again without this request.
/// </summary>
internal abstract class PendingWrite(CancellationToken cancellationToken)
{
    /// <summary>Honoured only until the writer picks the request up: a write is never cancelled between commit and response.</summary>
    public CancellationToken CancellationToken { get; } = cancellationToken;

    public abstract void Apply(StoreWriter writer);

    /// <summary>Publishes the staged result; a no-op if already completed or failed.</summary>
    public abstract void Complete();

    /// <summary>Fails the request; a no-op if already completed or failed.</summary>
    public abstract void Fail(Exception exception);
}

/// <summary>A pending write its caller awaits; it is its own <see cref="IValueTaskSource{TResult}"/>, so a write allocates one object.</summary>
internal abstract class PendingWrite<TResult>(CancellationToken cancellationToken)
    : PendingWrite(cancellationToken), IValueTaskSource<TResult>
{
    private ManualResetValueTaskSourceCore<TResult> _completion = new() { RunContinuationsAsynchronously = true };
    private TResult? _result;
    private StateStoreException? _rejection;
    private bool _signalled;

    public ValueTask<TResult> Task => new(this, _completion.Version);

    public sealed override void Apply(StoreWriter writer) => _result = Execute(writer, out _rejection);

    public sealed override void Complete()
    {
        if (!TrySignal())
        {
            return;
        }

        if (_rejection is { } rejection)
        {
            _completion.SetException(rejection);
        }
        else
        {
            _completion.SetResult(_result!);
        }
    }

    public sealed override void Fail(Exception exception)
    {
        if (TrySignal())
        {
            _completion.SetException(exception);
        }
    }

    public TResult GetResult(short token) => _completion.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _completion.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _completion.OnCompleted(continuation, state, token, flags);

    // Only the writer task signals, but after a defect it fails a whole batch, some of which may already be signalled.
    private bool TrySignal()
    {
        bool first = !_signalled;
        _signalled = true;
        return first;
    }

    /// <summary>Stages the result; sets <paramref name="rejection"/> (and writes nothing) to refuse the request.</summary>
    protected abstract TResult Execute(StoreWriter writer, out StateStoreException? rejection);
}

internal sealed class PutWrite(string key, byte[] value, long? expectedModRevision, long lease, CancellationToken cancellationToken)
    : PendingWrite<WriteResult>(cancellationToken)
{
    protected override WriteResult Execute(StoreWriter writer, out StateStoreException? rejection)
    {
        if (lease != 0 && !writer.IsLeaseLive(lease))
        {
            rejection = SqliteErrors.LeaseNotFound(lease);
            return null!;
        }

        rejection = null;
        return writer.Put(key, value, expectedModRevision, lease);
    }
}

internal sealed class DeleteWrite(string key, long? expectedModRevision, CancellationToken cancellationToken)
    : PendingWrite<WriteResult>(cancellationToken)
{
    protected override WriteResult Execute(StoreWriter writer, out StateStoreException? rejection)
    {
        rejection = null;
        return writer.Delete(key, expectedModRevision);
    }
}

internal sealed class TxnWrite(TxnRequest request, CancellationToken cancellationToken)
    : PendingWrite<TxnResult>(cancellationToken)
{
    protected override TxnResult Execute(StoreWriter writer, out StateStoreException? rejection) => writer.Txn(request, out rejection);
}

internal sealed class GrantLeaseWrite(long ttlMilliseconds, CancellationToken cancellationToken)
    : PendingWrite<LeaseGrant>(cancellationToken)
{
    protected override LeaseGrant Execute(StoreWriter writer, out StateStoreException? rejection)
    {
        rejection = null;
        return writer.GrantLease(ttlMilliseconds);
    }
}

internal sealed class KeepAliveWrite(long leaseId, CancellationToken cancellationToken)
    : PendingWrite<bool>(cancellationToken)
{
    protected override bool Execute(StoreWriter writer, out StateStoreException? rejection)
    {
        rejection = null;
        return writer.KeepAlive(leaseId);
    }
}

internal sealed class RevokeLeaseWrite(long leaseId, CancellationToken cancellationToken)
    : PendingWrite<bool>(cancellationToken)
{
    protected override bool Execute(StoreWriter writer, out StateStoreException? rejection)
    {
        rejection = null;
        return writer.RevokeLease(leaseId);
    }
}

internal sealed class CompactWrite(long revision, CancellationToken cancellationToken)
    : PendingWrite<bool>(cancellationToken)
{
    protected override bool Execute(StoreWriter writer, out StateStoreException? rejection)
    {
        rejection = null;
        return writer.Compact(revision);
    }
}

/// <summary>Queued by the lease timer; nobody awaits it, and a failure is retried on the next tick.</summary>
internal sealed class ExpireLeasesWrite(Action picked) : PendingWrite(CancellationToken.None)
{
    public override void Apply(StoreWriter writer)
    {
        // Signalled first, so a tick during this batch queues another check rather than being lost.
        picked();
        writer.ExpireLeases();
    }

    public override void Complete()
    {
    }

    // The next tick checks again; expiry is idempotent, so nothing is lost by dropping this one.
    public override void Fail(Exception exception) => picked();
}
