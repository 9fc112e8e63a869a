using Microsoft.Extensions.Logging;

namespace Holdfast.Reconciliation;

public sealed record ReconcileLoopOptions
{
    public int Workers { get; init; } = 4;

    /// <summary>Each reconcile call is cancelled after this long and retried with backoff.</summary>
    public TimeSpan ReconcileTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// Runs <see cref="ReconcileLoopOptions.Workers"/> workers over a <see cref="WorkQueue{TKey}"/>: take a key, reconcile it
/// with a timeout, then forget it, requeue it after the requested delay, or (on an exception) requeue it with backoff.
/// The catch-all here is a loop boundary and always logs what it catches.
/// </summary>
public sealed partial class ReconcileLoop<TKey>(string name, IReconciler<TKey> reconciler, WorkQueue<TKey> queue, ReconcileLoopOptions options, ILogger logger, TimeProvider? timeProvider = null)
    where TKey : notnull
{
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var workers = Enumerable.Range(0, Math.Max(1, options.Workers)).Select(_ => Task.Run(() => WorkAsync(cancellationToken), CancellationToken.None)).ToArray();
        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TKey key;
            try
            {
                key = await queue.TakeAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (System.Threading.Channels.ChannelClosedException)
            {
                return;
            }

            try
            {
                using var deadline = new CancellationTokenSource(options.ReconcileTimeout, timeProvider ?? TimeProvider.System);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
                var result = await reconciler.ReconcileAsync(key, timeout.Token).ConfigureAwait(false);
                queue.Forget(key);
                if (result.RequeueAfter is { } delay)
                {
                    queue.AddAfter(key, delay);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogReconcileFailed(logger, ex, name, key, queue.Failures(key) + 1);
                queue.AddRateLimited(key);
            }
            finally
            {
                queue.Done(key);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconcile of {Loop} {Key} failed (attempt {Attempt}); retrying with backoff")]
    private static partial void LogReconcileFailed(ILogger logger, Exception exception, string loop, object key, int attempt);
}
