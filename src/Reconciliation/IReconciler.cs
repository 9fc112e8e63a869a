namespace Holdfast.Reconciliation;

/// <summary>
/// Drives one object towards its committed desired state. Level-based, as in controller-runtime: each call reads the
/// current state afresh and must be safe to repeat. Throwing means "retry with backoff"; a reconciler that meets a
/// permanent failure records it on the object itself and returns <see cref="ReconcileResult.Done"/>.
/// </summary>
public interface IReconciler<TKey>
    where TKey : notnull
{
    Task<ReconcileResult> ReconcileAsync(TKey key, CancellationToken cancellationToken);
}

/// <summary>What the loop does next with a key: forget it, or look again after <see cref="RequeueAfter"/>.</summary>
public readonly record struct ReconcileResult(TimeSpan? RequeueAfter)
{
    public static ReconcileResult Done => default;

    public static ReconcileResult After(TimeSpan delay) => new(delay);
}
