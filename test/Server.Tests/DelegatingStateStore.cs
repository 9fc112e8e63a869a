using Holdfast.State;

namespace Holdfast.Server.Tests;

/// <summary>
/// Forwards every call to <see cref="Inner"/>: the base of the tests' stores that change one or two calls (a fault, a
/// gate, an interleaved write) and pass the rest through. Disposing it leaves the inner store to its owner.
/// </summary>
internal abstract class DelegatingStateStore(IStateStore inner) : IStateStore
{
    protected IStateStore Inner { get; } = inner;

    public virtual ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken) => Inner.GetRevisionAsync(cancellationToken);

    public virtual ValueTask<KeyValue?> GetAsync(string key, CancellationToken cancellationToken) => Inner.GetAsync(key, cancellationToken);

    public virtual ValueTask<RangeResult> RangeAsync(RangeRequest request, CancellationToken cancellationToken) => Inner.RangeAsync(request, cancellationToken);

    public virtual ValueTask<WriteResult> PutAsync(string key, ReadOnlyMemory<byte> value, long? expectedModRevision, CancellationToken cancellationToken, long lease = 0) =>
        Inner.PutAsync(key, value, expectedModRevision, cancellationToken, lease);

    public virtual ValueTask<WriteResult> DeleteAsync(string key, long? expectedModRevision, CancellationToken cancellationToken) => Inner.DeleteAsync(key, expectedModRevision, cancellationToken);

    public virtual ValueTask<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken) => Inner.TxnAsync(request, cancellationToken);

    public virtual IAsyncEnumerable<WatchEvent> WatchAsync(string prefix, long afterRevision, CancellationToken cancellationToken) => Inner.WatchAsync(prefix, afterRevision, cancellationToken);

    public virtual ValueTask<LeaseGrant> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken) => Inner.GrantLeaseAsync(ttl, cancellationToken);

    public virtual ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken) => Inner.KeepAliveAsync(leaseId, cancellationToken);

    public virtual ValueTask<bool> RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken) => Inner.RevokeLeaseAsync(leaseId, cancellationToken);

    public virtual ValueTask CompactAsync(long revision, CancellationToken cancellationToken) => Inner.CompactAsync(revision, cancellationToken);

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
