using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Fabric;

/// <summary>
/// Moves VMs off Draining hosts (docs/designs/0004-fleet-and-agents.md, "Lifecycle actions"): every
/// <see cref="HoldfastServerOptions.DrainInterval"/>, each instance on a Draining host is re-placed with
/// <see cref="CapacityService.MoveAsync"/> (<c>unplaceIfNoRoom: false</c>: with nowhere to go it stays where it runs),
/// retrying a conflicting move a few times with backoff. What cannot move is logged with the reason, once per reason,
/// and tried again on the next pass. The host stays Draining; the operator moves it on (enterMaintenance, decommission).
/// </summary>
internal sealed partial class DrainController(IStateStore store, CapacityService capacity, HoldfastServerOptions options, TimeProvider timeProvider, ILogger<DrainController> logger) : BackgroundService
{
    /// <summary>Attempts per instance and pass when a move fails on a concurrent change.</summary>
    public const int MaxAttempts = 3;

    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(50);

    private readonly Dictionary<string, string> _lastReason = new(StringComparer.Ordinal);
    private readonly HashSet<string> _drained = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>One pass at a time (the loop, or a caller that wants a pass now).</summary>
    private readonly SemaphoreSlim _pass = new(1, 1);

    /// <summary>One pass over every Draining host; returns how many instances were moved.</summary>
    public async Task<int> DrainOnceAsync(CancellationToken cancellationToken)
    {
        await capacity.WaitLoadedAsync(cancellationToken).ConfigureAwait(false);
        await _pass.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await PassAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pass.Release();
        }
    }

    public override void Dispose()
    {
        _pass.Dispose();
        base.Dispose();
    }

    private async Task<int> PassAsync(CancellationToken cancellationToken)
    {
        var moved = 0;
        foreach (var host in capacity.Hosts().Where(h => h.Description.State == HostState.Draining))
        {
            var name = host.Description.Name;
            if (host.Allocations.Allocations.Length == 0)
            {
                if (_drained.Add(name))
                {
                    LogDrained(logger, name);
                }

                continue;
            }

            _drained.Remove(name);
            foreach (var allocation in host.Allocations.Allocations)
            {
                if (await MoveAsync(allocation.Id, name, cancellationToken).ConfigureAwait(false))
                {
                    moved++;
                }
            }
        }

        return moved;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await DrainOnceAsync(stoppingToken).ConfigureAwait(false);
                await Task.Delay(options.DrainInterval, timeProvider, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (StateStoreException ex)
            {
                LogPassFailed(logger, ex.Message);
                await Task.Delay(options.DrainInterval, timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<bool> MoveAsync(string instanceId, string hostName, CancellationToken cancellationToken)
    {
        var backoff = FirstBackoff;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // The index may lag a move this controller made: only an instance still on the draining host moves.
                var stored = await store.GetAsync(FabricKeys.Instance(instanceId), cancellationToken).ConfigureAwait(false);
                if (stored is null || !string.Equals(FabricJson.Deserialize<InstanceDocument>(stored.Value.Span).Host, hostName, StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }

                var result = await capacity.MoveAsync(instanceId, unplaceIfNoRoom: false, request => store.TxnAsync(request, cancellationToken), cancellationToken).ConfigureAwait(false);
                if (result.Placed)
                {
                    _lastReason.Remove(instanceId);
                    LogMoved(logger, instanceId, hostName, result.Host!);
                    return true;
                }

                Unmovable(instanceId, hostName, result.Explanation?.Summary ?? "no host fits");
                return false;
            }
            catch (StateStoreException ex) when (attempt < MaxAttempts && !cancellationToken.IsCancellationRequested)
            {
                LogRetry(logger, instanceId, hostName, attempt, ex.Message);
                await Task.Delay(backoff, timeProvider, cancellationToken).ConfigureAwait(false);
                backoff *= 2;
            }
            catch (StateStoreException ex)
            {
                Unmovable(instanceId, hostName, ex.Message);
                return false;
            }
            catch (KeyNotFoundException)
            {
                return false; // freed meanwhile
            }
        }
    }

    private void Unmovable(string instanceId, string hostName, string reason)
    {
        if (!_lastReason.TryGetValue(instanceId, out var last) || last != reason)
        {
            _lastReason[instanceId] = reason;
            LogUnmovable(logger, instanceId, hostName, reason);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Drain moved {InstanceId} from {HostName} to {Target}")]
    private static partial void LogMoved(ILogger logger, string instanceId, string hostName, string target);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain cannot move {InstanceId} off {HostName}: {Reason}; it stays there and is tried again")]
    private static partial void LogUnmovable(ILogger logger, string instanceId, string hostName, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Drain of {InstanceId} off {HostName} conflicted (attempt {Attempt}): {Reason}")]
    private static partial void LogRetry(ILogger logger, string instanceId, string hostName, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostName} is drained: it holds no VMs")]
    private static partial void LogDrained(ILogger logger, string hostName);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain pass failed: {Reason}")]
    private static partial void LogPassFailed(ILogger logger, string reason);
}
