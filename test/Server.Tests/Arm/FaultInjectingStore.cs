using Holdfast.State;

namespace Holdfast.Server.Tests.Arm;

/// <summary>
/// The in-memory store with switchable faults, for the pipeline's failure paths: pending activity-log records that
/// cannot be stored, and transient failures reading operation records.
/// </summary>
internal sealed class FaultInjectingStore(InMemoryStateStore inner) : IStateStore
{
    /// <summary>Every single-key put of a pending activity-log record fails (the pipeline's own record).</summary>
    public bool FailPendingRecords { get; set; }

    /// <summary>Every read of an operation record fails transiently.</summary>
    public bool FailOperationReads { get; set; }

    public ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken) => inner.GetRevisionAsync(cancellationToken);

    public ValueTask<KeyValue?> GetAsync(string key, CancellationToken cancellationToken) =>
        FailOperationReads && key.StartsWith("/operations/", StringComparison.Ordinal)
            ? throw new StateStoreException("Injected transient read failure.", isTransient: true)
            : inner.GetAsync(key, cancellationToken);

    public ValueTask<RangeResult> RangeAsync(RangeRequest request, CancellationToken cancellationToken) => inner.RangeAsync(request, cancellationToken);

    public ValueTask<WriteResult> PutAsync(string key, ReadOnlyMemory<byte> value, long? expectedModRevision, CancellationToken cancellationToken, long lease = 0) =>
        FailPendingRecords && key.StartsWith("/audit/pending/", StringComparison.Ordinal)
            ? throw new StateStoreException("Injected failure storing a pending record.")
            : inner.PutAsync(key, value, expectedModRevision, cancellationToken, lease);

    public ValueTask<WriteResult> DeleteAsync(string key, long? expectedModRevision, CancellationToken cancellationToken) => inner.DeleteAsync(key, expectedModRevision, cancellationToken);

    /// <summary>Every transaction that carries a pending activity-log record fails (a write and its record).</summary>
    public bool FailAuditedTransactions { get; set; }

    public ValueTask<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken) =>
        FailAuditedTransactions && request.Success.Any(op => op.Key.StartsWith("/audit/pending/", StringComparison.Ordinal))
            ? throw new StateStoreException("Injected failure committing an audited write.", isTransient: true)
            : inner.TxnAsync(request, cancellationToken);

    public IAsyncEnumerable<WatchEvent> WatchAsync(string prefix, long afterRevision, CancellationToken cancellationToken) => inner.WatchAsync(prefix, afterRevision, cancellationToken);

    public ValueTask<LeaseGrant> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken) => inner.GrantLeaseAsync(ttl, cancellationToken);

    public ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken) => inner.KeepAliveAsync(leaseId, cancellationToken);

    public ValueTask<bool> RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken) => inner.RevokeLeaseAsync(leaseId, cancellationToken);

    public ValueTask CompactAsync(long revision, CancellationToken cancellationToken) => inner.CompactAsync(revision, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
