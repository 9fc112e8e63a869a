using Holdfast.State;

namespace Holdfast.Server.Tests.Arm;

/// <summary>
/// The in-memory store with switchable faults, for the pipeline's failure paths: pending activity-log records that
/// cannot be stored, and transient failures reading operation records. It owns the inner store.
/// </summary>
internal sealed class FaultInjectingStore(InMemoryStateStore inner) : DelegatingStateStore(inner)
{
    /// <summary>Every single-key put of a pending activity-log record fails (the pipeline's own record).</summary>
    public bool FailPendingRecords { get; set; }

    /// <summary>Every read of an operation record fails transiently.</summary>
    public bool FailOperationReads { get; set; }

    /// <summary>Every transaction that carries a pending activity-log record fails (a write and its record).</summary>
    public bool FailAuditedTransactions { get; set; }

    public override ValueTask<KeyValue?> GetAsync(string key, CancellationToken cancellationToken) =>
        FailOperationReads && key.StartsWith("/operations/", StringComparison.Ordinal)
            ? throw new StateStoreException("Injected transient read failure.", isTransient: true)
            : Inner.GetAsync(key, cancellationToken);

    public override ValueTask<WriteResult> PutAsync(string key, ReadOnlyMemory<byte> value, long? expectedModRevision, CancellationToken cancellationToken, long lease = 0) =>
        FailPendingRecords && key.StartsWith("/audit/pending/", StringComparison.Ordinal)
            ? throw new StateStoreException("Injected failure storing a pending record.")
            : Inner.PutAsync(key, value, expectedModRevision, cancellationToken, lease);

    public override ValueTask<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken) =>
        FailAuditedTransactions && request.Success.Any(op => op.Key.StartsWith("/audit/pending/", StringComparison.Ordinal))
            ? throw new StateStoreException("Injected failure committing an audited write.", isTransient: true)
            : Inner.TxnAsync(request, cancellationToken);

    public override async ValueTask DisposeAsync()
    {
        await Inner.DisposeAsync();
        await base.DisposeAsync();
    }
}
