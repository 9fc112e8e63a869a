using System.Collections.Concurrent;
using Holdfast.Providers.Framework;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Arm.Subscriptions;

/// <summary>
/// An in-memory view of every subscription, kept current by a store watch (list, then watch from the listed revision;
/// re-list on compaction), so the per-request subscription check costs a dictionary lookup instead of a store read
/// and a JSON parse. Requests wait for the first list; afterwards the view trails the store by one watch delivery.
/// Entries are immutable, so concurrent requests share them safely.
/// </summary>
internal sealed partial class SubscriptionDirectory(IStateStore store, ILogger<SubscriptionDirectory> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, SubscriptionView> _subscriptions = new(StringComparer.OrdinalIgnoreCase);
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly RevisionGate _applied = new();

    /// <summary>Completes once the view reflects every subscription write up to <paramref name="revision"/> (operator writes wait on it).</summary>
    public Task WaitForRevisionAsync(long revision, CancellationToken cancellationToken) => _applied.WaitForAsync(revision, cancellationToken);

    /// <summary>The subscription, or null when it does not exist.</summary>
    public async ValueTask<SubscriptionView?> FindAsync(string subscriptionId, CancellationToken cancellationToken)
    {
        if (!_loaded.Task.IsCompleted)
        {
            await _loaded.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return _subscriptions.GetValueOrDefault(subscriptionId);
    }

    public async ValueTask<IReadOnlyList<SubscriptionView>> ListAsync(CancellationToken cancellationToken)
    {
        if (!_loaded.Task.IsCompleted)
        {
            await _loaded.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return _subscriptions.Values.OrderBy(s => s.SubscriptionId, StringComparer.OrdinalIgnoreCase).ToList();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var revision = await LoadAsync(stoppingToken).ConfigureAwait(false);
                _applied.Advance(revision);
                _loaded.TrySetResult();
                await foreach (var changes in store.WatchAsync(ResourceKeys.SubscriptionsPrefix, revision, stoppingToken).ByRevisionAsync(stoppingToken).ConfigureAwait(false))
                {
                    foreach (var change in changes)
                    {
                        Apply(change.Kv.Key, change.Type == WatchEventType.Delete ? (ReadOnlyMemory<byte>?)null : change.Kv.Value);
                    }

                    _applied.Advance(changes[^1].Revision);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (StateStoreException ex)
            {
                LogResync(logger, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(100), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<long> LoadAsync(CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        string? after = null;
        long revision = 0;
        do
        {
            var page = await store.RangeAsync(new RangeRequest(ResourceKeys.SubscriptionsPrefix, 500, after), cancellationToken).ConfigureAwait(false);
            revision = revision == 0 ? page.Revision : Math.Min(revision, page.Revision);
            foreach (var kv in page.Items)
            {
                seen.Add(Apply(kv.Key, kv.Value));
            }

            after = page.ContinueAfter;
        }
        while (after is not null);

        foreach (var stale in _subscriptions.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            _subscriptions.TryRemove(stale, out _);
        }

        return revision;
    }

    private string Apply(string key, ReadOnlyMemory<byte>? value)
    {
        var id = key[ResourceKeys.SubscriptionsPrefix.Length..];
        if (value is { } bytes)
        {
            _subscriptions[id] = SubscriptionView.From(bytes);
        }
        else
        {
            _subscriptions.TryRemove(id, out _);
        }

        return id;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Subscription view re-listing: {Reason}")]
    private static partial void LogResync(ILogger logger, string reason);
}

/// <summary>One subscription as requests need it: the fields checks read, and the document as stored, to serve as is.</summary>
internal sealed record SubscriptionView(string SubscriptionId, string TenantId, string State, ReadOnlyMemory<byte> Document)
{
    public bool IsEnabled => string.Equals(State, "Enabled", StringComparison.OrdinalIgnoreCase);

    public static SubscriptionView From(ReadOnlyMemory<byte> document)
    {
        var parsed = ResourceDocument.Parse(document);
        return new SubscriptionView(
            parsed["subscriptionId"]!.GetValue<string>(),
            parsed["tenantId"]?.GetValue<string>() ?? string.Empty,
            parsed["state"]?.GetValue<string>() ?? "Enabled",
            document.ToArray());
    }
}
