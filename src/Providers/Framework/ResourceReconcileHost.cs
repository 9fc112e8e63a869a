using Holdfast.Reconciliation;
using Holdfast.State;
using Microsoft.Extensions.Logging;

namespace Holdfast.Providers.Framework;

/// <summary>
/// Feeds the resource reconciler from the store: lists every group and resource once (a level-based resync after a
/// restart or a crash mid-operation), then watches from the listed revision and queues each changed key — and, for a
/// resource, its group, so a deleting group notices its last child going. On compaction it lists again.
/// </summary>
public sealed partial class ResourceReconcileHost(IStateStore store, ResourceReconciler reconciler, TimeProvider timeProvider, ILogger<ResourceReconcileHost> logger)
{
    public ReconcileLoopOptions Options { get; init; } = new();

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var queue = new WorkQueue<string>(timeProvider, StringComparer.Ordinal);
        var loop = new ReconcileLoop<string>("resources", reconciler, queue, Options, logger, timeProvider);
        var workers = loop.RunAsync(cancellationToken);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    var revision = await ListIntoAsync(queue, ResourceKeys.GroupsPrefix, cancellationToken).ConfigureAwait(false);
                    revision = Math.Min(revision, await ListIntoAsync(queue, ResourceKeys.ResourcesPrefix, cancellationToken).ConfigureAwait(false));
                    await WatchIntoAsync(queue, revision, cancellationToken).ConfigureAwait(false);
                }
                catch (RevisionCompactedException ex)
                {
                    LogResync(logger, ex.Message);
                }
                catch (StateStoreException ex) when (ex.IsTransient)
                {
                    LogResync(logger, ex.Message);
                    await Task.Delay(TimeSpan.FromMilliseconds(200), timeProvider, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        await workers.ConfigureAwait(false);
    }

    /// <summary>
    /// Watches groups and resources (two prefixes, so the store sends nothing else: activity-log and fabric writes
    /// never reach this loop) until one watch ends, then stops the other and rethrows what ended the first.
    /// Order between the two streams does not matter: the reconciler reads the committed state.
    /// </summary>
    private async Task WatchIntoAsync(WorkQueue<string> queue, long revision, CancellationToken cancellationToken)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task[] watches = [WatchPrefixAsync(ResourceKeys.GroupsPrefix), WatchPrefixAsync(ResourceKeys.ResourcesPrefix)];
        var first = await Task.WhenAny(watches).ConfigureAwait(false);
        await both.CancelAsync().ConfigureAwait(false);
        foreach (var watch in watches)
        {
            try
            {
                await watch.ConfigureAwait(false);
            }
            catch (Exception) when (watch != first)
            {
                // The other watch was stopped; what counts is why the first one ended.
            }
        }

        async Task WatchPrefixAsync(string prefix)
        {
            await foreach (var change in store.WatchAsync(prefix, revision, both.Token).ConfigureAwait(false))
            {
                Enqueue(queue, change);
            }
        }
    }

    private async Task<long> ListIntoAsync(WorkQueue<string> queue, string prefix, CancellationToken cancellationToken)
    {
        string? after = null;
        long revision = long.MaxValue;
        do
        {
            var page = await store.RangeAsync(new RangeRequest(prefix, Limit: 1000, StartAfter: after), cancellationToken).ConfigureAwait(false);
            revision = Math.Min(revision, page.Revision);
            foreach (var kv in page.Items)
            {
                if (!ProvisioningStates.IsTerminal(ResourceDocument.GetProvisioningState(ResourceDocument.Parse(kv.Value))))
                {
                    queue.Add(kv.Key);
                }
            }

            after = page.ContinueAfter;
        }
        while (after is not null);

        return revision;
    }

    /// <summary>
    /// Queues what a change can make due: a group or resource whose committed state is not terminal, and the group of a
    /// deleted resource (a deleting group waits for its last child). Terminal writes, the common case, queue nothing:
    /// the event already carries the document, so nothing is read back.
    /// </summary>
    private static void Enqueue(WorkQueue<string> queue, WatchEvent change)
    {
        var key = change.Kv.Key;
        var isGroup = key.StartsWith(ResourceKeys.GroupsPrefix, StringComparison.Ordinal);
        if (change.Type == WatchEventType.Delete)
        {
            if (!isGroup && ResourceKeys.GroupOfResource(key) is { } group)
            {
                queue.Add(group);
            }

            return;
        }

        if (!ProvisioningStates.IsTerminal(ResourceDocument.ReadProvisioningState(change.Kv.Value.Span)))
        {
            queue.Add(key);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Resource watch restarting with a full resync: {Reason}")]
    private static partial void LogResync(ILogger logger, string reason);
}
