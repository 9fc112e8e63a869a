using System.Collections.Concurrent;
using Holdfast.Capacity.Inventory;
using Holdfast.Server.Fabric;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Agents;

/// <summary>
/// Host health (docs/designs/0004-fleet-and-agents.md, "Health, healing, fencing"). Heartbeats live in memory (a
/// durable write per heartbeat would cost the store); only state changes are written. Each sweep: InService/Draining
/// hosts silent for <see cref="HoldfastServerOptions.UnreachableAfterSeconds"/> become Unreachable; silent for
/// <see cref="HoldfastServerOptions.FailedAfterSeconds"/> (longer than an agent's self-fence time, so its VMs are
/// already stopped) they become Failed and every instance on them is moved with
/// <see cref="CapacityService.MoveAsync"/> (those that find no room wait, host-less, and are retried). A host never
/// heard from since this server started counts from the start: every host gets the full Failed time of grace. With
/// replicas the monitor runs on the leader only: heartbeats that reached another replica arrive through the
/// <see cref="Cluster.HeartbeatRelay"/>, and each term starts every host's timer afresh (the same grace).
/// </summary>
internal sealed partial class HostHealthMonitor(IStateStore store, CapacityService capacity, FleetView fleet, HoldfastServerOptions options, TimeProvider time, ILogger<HostHealthMonitor> logger, Cluster.HeartbeatRelay? relay = null) : BackgroundService
{
    private static readonly HostState[] Watched = [HostState.InService, HostState.Draining];
    private static readonly HostState[] Failable = [HostState.InService, HostState.Draining, HostState.Unreachable];
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastSeen = new(StringComparer.OrdinalIgnoreCase);
    private DateTimeOffset _startedAt = time.GetUtcNow();
    private DateTimeOffset _lastWaitingRetry;

    /// <summary>How often waiting instances are offered placement again.</summary>
    public static TimeSpan WaitingRetryInterval { get; } = TimeSpan.FromSeconds(5);

    public void RecordHeartbeat(string hostName)
    {
        _lastSeen[hostName] = time.GetUtcNow();
        relay?.Heard(hostName);
    }

    /// <summary>When the host was last heard from (here or through another replica); the monitor's start when never (the grace).</summary>
    public DateTimeOffset LastHeard(string hostName)
    {
        var heard = _lastSeen.TryGetValue(hostName, out var at) && at > _startedAt ? at : _startedAt;
        return relay?.RelayedAt(hostName) is { } relayed && relayed > heard ? relayed : heard;
    }

    /// <summary>One pass over the fleet: state changes for silent hosts, healing of Failed ones, retries of waiting instances.</summary>
    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        await capacity.WaitLoadedAsync(cancellationToken).ConfigureAwait(false);
        await fleet.WaitLoadedAsync(cancellationToken).ConfigureAwait(false);
        var unreachableAfter = TimeSpan.FromSeconds(options.UnreachableAfterSeconds);
        var failedAfter = TimeSpan.FromSeconds(options.FailedAfterSeconds);
        foreach (var host in capacity.Hosts())
        {
            var name = host.Description.Name;
            var state = host.Description.State;
            var silence = time.GetUtcNow() - LastHeard(name);
            if (Failable.Contains(state) && silence >= failedAfter)
            {
                var written = await HostStateWriter.TransitionAsync(store, name, Failable, HostState.Failed, $"No heartbeat for {(int)silence.TotalSeconds} s; its VMs are re-placed elsewhere.", time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                if (written is not null)
                {
                    LogFailed(logger, name, (int)silence.TotalSeconds, host.Allocations.Allocations.Length);
                    state = HostState.Failed;
                }
            }
            else if (Watched.Contains(state) && silence >= unreachableAfter)
            {
                if (await HostStateWriter.TransitionAsync(store, name, Watched, HostState.Unreachable, $"No heartbeat for {(int)silence.TotalSeconds} s.", time.GetUtcNow(), cancellationToken).ConfigureAwait(false) is not null)
                {
                    LogUnreachable(logger, name, (int)silence.TotalSeconds);
                }
            }

            if (state == HostState.Failed && host.Allocations.Allocations.Length > 0)
            {
                await HealAsync(name, [.. host.Allocations.Allocations.Select(a => a.Id)], cancellationToken).ConfigureAwait(false);
            }
        }

        if (time.GetUtcNow() - _lastWaitingRetry >= WaitingRetryInterval)
        {
            _lastWaitingRetry = time.GetUtcNow();
            var waiting = fleet.Waiting();
            if (waiting.Count > 0)
            {
                await HealAsync(null, [.. waiting.Select(i => i.Id)], cancellationToken).ConfigureAwait(false);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(Math.Clamp(options.HeartbeatSeconds / 2.0, 0.25, 1));
        _startedAt = time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SweepAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (StateStoreException ex)
            {
                LogSweepFailed(logger, ex.Message);
            }

            try
            {
                await Task.Delay(interval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task HealAsync(string? fromHost, IReadOnlyList<string> instanceIds, CancellationToken cancellationToken)
    {
        foreach (var id in instanceIds)
        {
            try
            {
                var result = await capacity.MoveAsync(id, unplaceIfNoRoom: true, request => store.TxnAsync(request, cancellationToken), cancellationToken).ConfigureAwait(false);
                if (result.Placed)
                {
                    LogMoved(logger, id, fromHost ?? "(waiting)", result.Host!);
                }
                else if (fromHost is not null)
                {
                    LogWaiting(logger, id, fromHost, result.Explanation?.Summary ?? "no host fits");
                }
            }
            catch (KeyNotFoundException)
            {
                // An allocation without its instance document (deleted meanwhile): nothing to move.
            }
            catch (StateStoreException ex)
            {
                LogSweepFailed(logger, ex.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Host {HostName} is Unreachable: no heartbeat for {Seconds} s")]
    private static partial void LogUnreachable(ILogger logger, string hostName, int seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Host {HostName} is Failed: no heartbeat for {Seconds} s; re-placing its {Count} instance(s)")]
    private static partial void LogFailed(ILogger logger, string hostName, int seconds, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Instance {InstanceId} moved from {From} to {HostName}")]
    private static partial void LogMoved(ILogger logger, string instanceId, string from, string hostName);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Instance {InstanceId} left {HostName} and waits for capacity: {Reason}")]
    private static partial void LogWaiting(ILogger logger, string instanceId, string hostName, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Health sweep failed: {Reason}")]
    private static partial void LogSweepFailed(ILogger logger, string reason);
}
