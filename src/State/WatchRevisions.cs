using System.Runtime.CompilerServices;

namespace Holdfast.State;

/// <summary>
/// Groups a watch's events by revision. A transaction's events share its revision and arrive together, so a view that
/// advanced its "applied up to" mark after each event would tell a waiter it had caught up while the rest of that
/// transaction was still unapplied. A group ends at the first event of a newer revision, or when no further event is
/// ready yet.
/// </summary>
public static class WatchRevisions
{
    public static async IAsyncEnumerable<IReadOnlyList<WatchEvent>> ByRevisionAsync(this IAsyncEnumerable<WatchEvent> events, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);

        // A group is handed out while the next event is awaited; if the caller stops there, that wait is cancelled and
        // finished before the watch is disposed (an iterator cannot be disposed mid-wait).
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var enumerator = events.GetAsyncEnumerator(stop.Token);
        Task<bool>? waiting = null;
        try
        {
            List<WatchEvent>? group = null;
            while (true)
            {
                var next = enumerator.MoveNextAsync();
                bool more;
                if (!next.IsCompleted && group is not null)
                {
                    waiting = next.AsTask();
                    yield return group;
                    group = null;
                    more = await waiting.ConfigureAwait(false);
                    waiting = null;
                }
                else
                {
                    more = await next.ConfigureAwait(false);
                }

                if (!more)
                {
                    break;
                }

                var change = enumerator.Current;
                if (group is not null && group[^1].Revision != change.Revision)
                {
                    yield return group;
                    group = null;
                }

                (group ??= []).Add(change);
            }

            if (group is not null)
            {
                yield return group;
            }
        }
        finally
        {
            if (waiting is not null)
            {
                await stop.CancelAsync().ConfigureAwait(false);
                try
                {
                    await waiting.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Stopped by us.
                }
            }

            await enumerator.DisposeAsync().ConfigureAwait(false);
        }
    }
}
