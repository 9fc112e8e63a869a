using Holdfast.Fabric;
using Holdfast.Server.Arm;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Agents;

/// <summary>
/// Every <see cref="InstanceDocument"/> indexed by host, listed at start and kept current by watch on
/// <c>/fabric/</c> (instances only are kept): what a host's sync answers as desired, and which instances wait for room. It may lag the
/// store by a watch event, never lie: writes that matter (Observed, moves) re-read the document and compare-and-swap.
/// </summary>
internal sealed partial class FleetView(IStateStore store, ILogger<FleetView> logger) : BackgroundService
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, InstanceDocument> _instances = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, HashSet<string>> _byHost = new(StringComparer.OrdinalIgnoreCase);
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly RevisionGate _applied = new();

    public Task WaitLoadedAsync(CancellationToken cancellationToken) => _loaded.Task.WaitAsync(cancellationToken);

    public Task WaitForRevisionAsync(long revision, CancellationToken cancellationToken) => _applied.WaitForAsync(revision, cancellationToken);

    public InstanceDocument? Find(string instanceId)
    {
        lock (_lock)
        {
            return _instances.GetValueOrDefault(instanceId);
        }
    }

    /// <summary>The instances placed on <paramref name="hostName"/>, by id.</summary>
    public IReadOnlyList<InstanceDocument> OnHost(string hostName)
    {
        lock (_lock)
        {
            return _byHost.TryGetValue(hostName, out var ids) ? [.. ids.Order(StringComparer.Ordinal).Select(id => _instances[id])] : [];
        }
    }

    /// <summary>Instances that have no host (healing found no room).</summary>
    public IReadOnlyList<InstanceDocument> Waiting()
    {
        lock (_lock)
        {
            return [.. _instances.Values.Where(i => i.Host is null)];
        }
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
                // The whole fabric prefix, so the applied revision advances with every fabric write (callers wait on it).
                await foreach (var changes in store.WatchAsync(FabricKeys.Prefix, revision, stoppingToken).ByRevisionAsync(stoppingToken).ConfigureAwait(false))
                {
                    lock (_lock)
                    {
                        foreach (var change in changes.Where(c => c.Kv.Key.StartsWith(FabricKeys.InstancesPrefix, StringComparison.Ordinal)))
                        {
                            Apply(change.Kv, change.Type == WatchEventType.Delete);
                        }
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
        var items = new List<KeyValue>();
        long revision = 0;
        string? after = null;
        do
        {
            var page = await store.RangeAsync(new RangeRequest(FabricKeys.InstancesPrefix, 1000, after), cancellationToken).ConfigureAwait(false);
            revision = revision == 0 ? page.Revision : Math.Min(revision, page.Revision);
            items.AddRange(page.Items);
            after = page.ContinueAfter;
        }
        while (after is not null);

        lock (_lock)
        {
            _instances.Clear();
            _byHost.Clear();
            foreach (var kv in items)
            {
                Apply(kv, deleted: false);
            }
        }

        return revision;
    }

    /// <summary>Caller holds the lock.</summary>
    private void Apply(KeyValue kv, bool deleted)
    {
        var id = FabricKeys.NameOf(kv.Key);
        if (_instances.Remove(id, out var previous) && previous.Host is { } previousHost && _byHost.TryGetValue(previousHost, out var ids))
        {
            ids.Remove(id);
            if (ids.Count == 0)
            {
                _byHost.Remove(previousHost);
            }
        }

        if (deleted)
        {
            return;
        }

        InstanceDocument instance;
        try
        {
            instance = FabricJson.Deserialize<InstanceDocument>(kv.Value.Span);
        }
        catch (System.Text.Json.JsonException ex)
        {
            LogUnreadable(logger, kv.Key, ex.Message);
            return;
        }

        _instances[id] = instance;
        if (instance.Host is { } host)
        {
            if (!_byHost.TryGetValue(host, out var onHost))
            {
                _byHost[host] = onHost = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            }

            onHost.Add(id);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Fleet view re-listing instances: {Reason}")]
    private static partial void LogResync(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Fleet view skipped {Key}, which it cannot read: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string key, string reason);
}
