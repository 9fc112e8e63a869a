using System.Collections.Concurrent;
using System.Text.Json;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Cluster;

/// <summary>
/// Gets agents' heartbeats to the leader's health monitor when they sync with another replica. A follower collects the
/// hosts it heard and writes them as one batch, <c>/cluster/heartbeats/{replica}</c> on its lease, at most every
/// <see cref="FlushInterval"/> (one write per replica, not per host); every replica watches the batches of the others and
/// keeps, per host, when it last saw one. The leader hears its own agents directly and writes nothing.
/// </summary>
internal sealed partial class HeartbeatRelay(IStateStore store, LeaderElection election, HoldfastServerOptions options, TimeProvider time, ILogger<HeartbeatRelay> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, byte> _pending = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _relayed = new(StringComparer.OrdinalIgnoreCase);
    private readonly string _ownKey = ClusterKeys.Heartbeats(election.ReplicaId);

    /// <summary>Half a heartbeat, at most a second: a relayed heartbeat is at most this late.</summary>
    public TimeSpan FlushInterval { get; } = TimeSpan.FromSeconds(Math.Clamp(options.HeartbeatSeconds / 2.0, 0.25, 1));

    /// <summary>An agent synced with this replica.</summary>
    public void Heard(string hostName) => _pending[hostName] = 0;

    /// <summary>When another replica last relayed a heartbeat of <paramref name="hostName"/> (as this replica saw it).</summary>
    public DateTimeOffset? RelayedAt(string hostName) => _relayed.TryGetValue(hostName, out var at) ? at : null;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var watch = WatchAsync(stoppingToken);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(FlushInterval, time, stoppingToken).ConfigureAwait(false);
                await FlushAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await watch.ConfigureAwait(false);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.IsEmpty)
        {
            return;
        }

        var hosts = _pending.Keys.ToArray();
        foreach (var host in hosts)
        {
            _pending.TryRemove(host, out _);
        }

        if (election.IsLeader || election.LeaseId == 0)
        {
            return;
        }

        try
        {
            var batch = JsonSerializer.SerializeToUtf8Bytes(new HeartbeatBatch(hosts), ClusterJson.Default.HeartbeatBatch);
            await store.PutAsync(_ownKey, batch, null, cancellationToken, election.LeaseId).ConfigureAwait(false);
        }
        catch (StateStoreException ex)
        {
            // The lease may have just expired (the election grants a new one); the next heartbeats are relayed then.
            LogRelayFailed(logger, ex.Message);
        }
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        long after = -1;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (after < 0)
                {
                    after = await store.GetRevisionAsync(cancellationToken).ConfigureAwait(false);
                }

                await foreach (var change in store.WatchAsync(ClusterKeys.HeartbeatsPrefix, after, cancellationToken).ConfigureAwait(false))
                {
                    after = change.Revision;
                    if (change.Type != WatchEventType.Put || change.Kv.Key == _ownKey)
                    {
                        continue;
                    }

                    var now = time.GetUtcNow();
                    foreach (var host in JsonSerializer.Deserialize(change.Kv.Value.Span, ClusterJson.Default.HeartbeatBatch)?.Hosts ?? [])
                    {
                        _relayed[host] = now;
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RevisionCompactedException)
            {
                after = -1;
            }
            catch (Exception ex) when (ex is StateStoreException or JsonException or ObjectDisposedException)
            {
                LogRelayFailed(logger, ex.Message);
                try
                {
                    await Task.Delay(FlushInterval, time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Heartbeat relay: {Reason}")]
    private static partial void LogRelayFailed(ILogger logger, string reason);
}
