using Holdfast.Providers.Framework;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Hosting;

/// <summary>
/// Keeps the store's watch history bounded, as the Kubernetes API server does for etcd: every
/// <see cref="Interval"/> it compacts away history older than the newest <see cref="RetainedRevisions"/> revisions.
/// Current values are never touched; a watcher that falls behind the compaction point re-lists (it gets
/// <see cref="RevisionCompactedException"/>). It also sweeps finished operation records past their retention.
/// </summary>
internal sealed partial class StoreCompactionService(IStateStore store, TimeProvider timeProvider, ILogger<StoreCompactionService> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);
    public const long RetainedRevisions = 10_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, timeProvider);
        long compacted = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    var swept = await OperationJanitor.SweepAsync(store, timeProvider.GetUtcNow(), OperationJanitor.DefaultRetention, stoppingToken).ConfigureAwait(false);
                    if (swept > 0)
                    {
                        LogOperationsSwept(logger, swept);
                    }

                    var target = await store.GetRevisionAsync(stoppingToken).ConfigureAwait(false) - RetainedRevisions;
                    if (target > compacted)
                    {
                        await store.CompactAsync(target, stoppingToken).ConfigureAwait(false);
                        compacted = target;
                        LogCompacted(logger, target);
                    }
                }
                catch (StateStoreException ex)
                {
                    LogCompactionFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Compacted store history up to revision {Revision}")]
    private static partial void LogCompacted(ILogger logger, long revision);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} finished operation records past retention")]
    private static partial void LogOperationsSwept(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Store compaction failed; retrying at the next interval")]
    private static partial void LogCompactionFailed(ILogger logger, Exception exception);
}
