using Holdfast.State;

namespace Holdfast.Server.Cluster;

/// <summary>
/// The store every server component gets. Inside a leader-only singleton (<see cref="LeaderOnlyService"/> sets
/// <see cref="Scope"/> for the singleton's whole async flow, and so for everything it calls: capacity moves, handlers,
/// activity-log records) every write carries the term's fence as one more compare, and a failure whose cause is the
/// fence — read back in the same transaction — ends the term and throws <see cref="LeadershipLostException"/> instead of
/// returning "not succeeded", so no caller mistakes it for a concurrent change and retries. Writes outside a scope (API
/// requests, agent syncs, start-up seeding, the election itself) pass through unchanged.
/// </summary>
internal sealed class FencedStateStore(IStateStore inner) : IStateStore
{
    private static readonly AsyncLocal<LeaderTerm?> CurrentScope = new();

    /// <summary>The term whose fence guards this async flow's writes; null outside leader-only singletons.</summary>
    public static LeaderTerm? Scope
    {
        get => CurrentScope.Value;
        set => CurrentScope.Value = value;
    }

    public IStateStore Inner => inner;

    public ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken) => inner.GetRevisionAsync(cancellationToken);

    public ValueTask<KeyValue?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

    public ValueTask<KeyValue?> GetSerializableAsync(string key, CancellationToken cancellationToken) => inner.GetSerializableAsync(key, cancellationToken);

    public ValueTask<RangeResult> RangeAsync(RangeRequest request, CancellationToken cancellationToken) => inner.RangeAsync(request, cancellationToken);

    public IAsyncEnumerable<WatchEvent> WatchAsync(string prefix, long afterRevision, CancellationToken cancellationToken) => inner.WatchAsync(prefix, afterRevision, cancellationToken);

    public ValueTask<LeaseGrant> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken) => inner.GrantLeaseAsync(ttl, cancellationToken);

    public ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken) => inner.KeepAliveAsync(leaseId, cancellationToken);

    public ValueTask<bool> RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken) => inner.RevokeLeaseAsync(leaseId, cancellationToken);

    public async ValueTask CompactAsync(long revision, CancellationToken cancellationToken)
    {
        if (Scope is { } term)
        {
            // Compaction is not a transaction; check the fence just before (a late compaction by a deposed leader only
            // discards history that the new leader would discard too).
            var leader = await inner.GetAsync(ClusterKeys.Leader, cancellationToken).ConfigureAwait(false);
            ThrowIfLost(term, leader);
        }

        await inner.CompactAsync(revision, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Scope is { } term ? FencedTxnAsync(term, request, cancellationToken) : inner.TxnAsync(request, cancellationToken);
    }

    public ValueTask<WriteResult> PutAsync(string key, ReadOnlyMemory<byte> value, long? expectedModRevision, CancellationToken cancellationToken, long lease = 0) =>
        Scope is { } term ? FencedPutAsync(term, key, value, expectedModRevision, lease, cancellationToken) : inner.PutAsync(key, value, expectedModRevision, cancellationToken, lease);

    public ValueTask<WriteResult> DeleteAsync(string key, long? expectedModRevision, CancellationToken cancellationToken) =>
        Scope is { } term ? FencedDeleteAsync(term, key, expectedModRevision, cancellationToken) : inner.DeleteAsync(key, expectedModRevision, cancellationToken);

    /// <summary>The caller owns the inner store and disposes it.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private async ValueTask<TxnResult> FencedTxnAsync(LeaderTerm term, TxnRequest request, CancellationToken cancellationToken)
    {
        var result = await inner.TxnAsync(
            request with { Compares = [.. request.Compares, term.Fence], Failure = [.. request.Failure, TxnOp.Get(ClusterKeys.Leader)] },
            cancellationToken).ConfigureAwait(false);
        if (result.Succeeded)
        {
            return result;
        }

        ThrowIfLost(term, First(result.Results[^1]));
        return result with { Results = [.. result.Results.Take(result.Results.Count - 1)] };
    }

    private async ValueTask<WriteResult> FencedPutAsync(LeaderTerm term, string key, ReadOnlyMemory<byte> value, long? expectedModRevision, long lease, CancellationToken cancellationToken)
    {
        List<Compare> compares = [term.Fence];
        if (expectedModRevision is { } expected)
        {
            compares.Add(expected == 0 ? Compare.Absent(key) : Compare.ModRevisionIs(key, expected));
        }

        var result = await inner.TxnAsync(new TxnRequest(compares, [TxnOp.Put(key, value, lease)], [TxnOp.Get(key), TxnOp.Get(ClusterKeys.Leader)]), cancellationToken).ConfigureAwait(false);
        if (result.Succeeded)
        {
            var previous = First(result.Results[0]);
            var written = new KeyValue(key, value, previous?.CreateRevision ?? result.Revision, result.Revision, (previous?.Version ?? 0) + 1, lease);
            return new WriteResult(true, result.Revision, written);
        }

        ThrowIfLost(term, First(result.Results[1]));
        return new WriteResult(false, result.Revision, First(result.Results[0]));
    }

    private async ValueTask<WriteResult> FencedDeleteAsync(LeaderTerm term, string key, long? expectedModRevision, CancellationToken cancellationToken)
    {
        Compare exists = expectedModRevision is { } expected
            ? (expected == 0 ? new Compare(key, CompareTarget.CreateRevision, CompareOperator.Less, 0) : Compare.ModRevisionIs(key, expected))
            : Compare.Exists(key);
        var result = await inner.TxnAsync(new TxnRequest([term.Fence, exists], [TxnOp.Delete(key)], [TxnOp.Get(key), TxnOp.Get(ClusterKeys.Leader)]), cancellationToken).ConfigureAwait(false);
        if (result.Succeeded)
        {
            return new WriteResult(true, result.Revision, null);
        }

        ThrowIfLost(term, First(result.Results[1]));
        return new WriteResult(false, result.Revision, First(result.Results[0]));
    }

    private static KeyValue? First(TxnOpResult result) => result.Kvs.Count > 0 ? result.Kvs[0] : null;

    private static void ThrowIfLost(LeaderTerm term, KeyValue? leader)
    {
        if (leader?.CreateRevision == term.Number)
        {
            return;
        }

        term.Lost();
        throw new LeadershipLostException(term.Number, term.Token);
    }
}

/// <summary>A fenced write failed its fence: this replica's term is over. Cancellation of the singleton that wrote.</summary>
public sealed class LeadershipLostException : OperationCanceledException
{
    public LeadershipLostException()
        : base("This replica is no longer the leader.")
    {
    }

    public LeadershipLostException(string message)
        : base(message)
    {
    }

    public LeadershipLostException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public LeadershipLostException(long term, CancellationToken token)
        : base($"This replica is no longer the leader (its term {term} ended); the write was refused by the fence.", token)
    {
    }
}
