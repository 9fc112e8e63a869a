using Holdfast.State;

namespace Holdfast.Server.Tests.Cluster;

/// <summary>
/// A store whose first <c>parties</c> range reads all wait for one another before they answer, so replicas starting
/// together all see the store as it was before any of them wrote: the first-start race, forced every time.
/// </summary>
internal sealed class GatedStore(IStateStore inner, int parties) : DelegatingStateStore(inner)
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _arrived;

    public override async ValueTask<RangeResult> RangeAsync(RangeRequest request, CancellationToken cancellationToken)
    {
        var result = await Inner.RangeAsync(request, cancellationToken).ConfigureAwait(false);
        if (Interlocked.Increment(ref _arrived) <= parties)
        {
            if (Volatile.Read(ref _arrived) >= parties)
            {
                _open.TrySetResult();
            }

            await _open.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }

        return result;
    }
}
