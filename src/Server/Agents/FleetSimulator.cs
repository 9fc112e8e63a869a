using Holdfast.Agent;
using Holdfast.Agent.Drivers.Simulated;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Server.Fabric;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Agents;

/// <summary>
/// Simulated hardware, named as such: <see cref="HoldfastServerOptions.SimulatedHosts"/> hosts run in this process,
/// each with a <see cref="SimulatedVmDriver"/> (in memory), syncing through the same <see cref="AgentService"/> logic a
/// real agent's heartbeat takes (without the TLS hop) and converging like <see cref="HostAgent"/>, so VMs placed on
/// them become Running. Topology created if absent (idempotent on restart): site <c>local</c>, cluster <c>local-1</c>,
/// racks of 8 hosts, hosts <c>sim-0001</c>…, every 8th with 4 GPUs. One loop syncs every host per heartbeat in
/// bounded parallel batches — no thread or timer per host, so it scales to thousands.
/// </summary>
internal sealed partial class FleetSimulator(IStateStore store, AgentService agents, CapacityService capacity, HoldfastServerOptions options, TimeProvider time, ILogger<FleetSimulator> logger) : BackgroundService
{
    public const string SiteName = "local";
    public const string ClusterName = "local-1";
    public const int HostsPerRack = 8;

    private static readonly CapacityVector Shape = new(32, 131072, 1024, 0);
    private readonly string _bootId = Guid.NewGuid().ToString("N");
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SimulatedHost> _hosts = new(StringComparer.OrdinalIgnoreCase);

    public static string HostName(int number) => $"sim-{number:D4}";

    public static string RackName(int number) => $"rack-{((number - 1) / HostsPerRack) + 1:D2}";

    /// <summary>The shape of host <paramref name="number"/>: every 8th has 4 GPUs and the trait <c>gpu</c>.</summary>
    public static (CapacityVector Capacity, IReadOnlyList<string> Traits) ShapeOf(int number) =>
        number % HostsPerRack == 0 ? (Shape with { Gpus = 4 }, ["simulated", "ssd", "gpu"]) : (Shape, ["simulated", "ssd"]);

    /// <summary>The simulated driver of a host (tests read its VMs).</summary>
    public IVmDriver? DriverOf(string hostName)
    {
        lock (_lock)
        {
            return _hosts.GetValueOrDefault(hostName)?.Driver;
        }
    }

    /// <summary>Writes the site, cluster, racks and hosts that do not exist yet; existing ones are left as they are.</summary>
    public async Task EnsureTopologyAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var puts = new List<(string Key, byte[] Value)>
        {
            (FabricKeys.Site(SiteName), FabricJson.Serialize(new SimulatedSite(SiteName, "Local (simulated)"))),
            (FabricKeys.Cluster(ClusterName), FabricJson.Serialize(new SimulatedCluster(ClusterName, SiteName, null))),
        };
        var racks = (options.SimulatedHosts + HostsPerRack - 1) / HostsPerRack;
        for (var rack = 1; rack <= racks; rack++)
        {
            var name = RackName(((rack - 1) * HostsPerRack) + 1);
            puts.Add((FabricKeys.Rack(name), FabricJson.Serialize(new SimulatedRack(name, ClusterName))));
        }

        for (var number = 1; number <= options.SimulatedHosts; number++)
        {
            var (shape, traits) = ShapeOf(number);
            var host = new HostDocument
            {
                Name = HostName(number),
                Site = SiteName,
                Cluster = ClusterName,
                Rack = RackName(number),
                UpdateDomain = (number - 1) % 5,
                Capacity = shape,
                Traits = traits,
                State = HostState.InService,
                StateReason = "Simulated host, created validated.",
                StateChangedAt = now,
                Simulated = true,
                Agent = new AgentRegistration { CertificateThumbprint = "simulated", JoinedAt = now, Driver = SimulatedVmDriver.DriverName, AgentVersion = "simulator" },
            };
            puts.Add((FabricKeys.Host(host.Name), FabricJson.Serialize(host)));
        }

        var created = 0;
        foreach (var batch in puts.Chunk(128))
        {
            // Create-if-absent per key: a batch whose keys all are new goes in one transaction; otherwise key by key.
            var all = await store.TxnAsync(new TxnRequest([.. batch.Select(p => Compare.Absent(p.Key))], [.. batch.Select(p => TxnOp.Put(p.Key, p.Value))]), cancellationToken).ConfigureAwait(false);
            if (all.Succeeded)
            {
                created += batch.Length;
                continue;
            }

            foreach (var (key, value) in batch)
            {
                created += (await store.PutAsync(key, value, 0, cancellationToken).ConfigureAwait(false)).Succeeded ? 1 : 0;
            }
        }

        lock (_lock)
        {
            for (var number = 1; number <= options.SimulatedHosts; number++)
            {
                var name = HostName(number);
                if (!_hosts.ContainsKey(name))
                {
                    var (shape, traits) = ShapeOf(number);
                    _hosts[name] = new SimulatedHost(name, new SimulatedVmDriver(new SimulatedVmDriverOptions { Capacity = shape, Traits = traits, AgentVersion = "simulator" }, time));
                }
            }
        }

        LogTopology(logger, options.SimulatedHosts, created);
    }

    /// <summary>One heartbeat of every simulated host: sync, converge, and report again at once when something changed.</summary>
    public async Task TickAsync(CancellationToken cancellationToken)
    {
        SimulatedHost[] hosts;
        lock (_lock)
        {
            hosts = [.. _hosts.Values];
        }

        await Parallel.ForEachAsync(hosts, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (host, ct) =>
        {
            for (var round = 0; round < 2; round++)
            {
                var reports = await Convergence.ReportAsync(host.Driver, host.Last, ct).ConfigureAwait(false);
                var response = await agents.SyncSimulatedAsync(new SyncRequest(host.Name, _bootId, host.Driver.Inventory, reports), ct).ConfigureAwait(false);
                if (response is null)
                {
                    return;
                }

                var result = await Convergence.ConvergeAsync(host.Driver, response.Desired, ct).ConfigureAwait(false);
                host.Last = result;
                if (result.Changes == 0)
                {
                    return;
                }
            }
        }).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await EnsureTopologyAsync(stoppingToken).ConfigureAwait(false);
            await capacity.WaitLoadedAsync(stoppingToken).ConfigureAwait(false);
            var heartbeat = TimeSpan.FromSeconds(options.HeartbeatSeconds);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await TickAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (StateStoreException ex)
                {
                    LogTickFailed(logger, ex.Message);
                }

                await Task.Delay(heartbeat, time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Fleet simulator: {Count} simulated hosts ({Created} fleet documents created)")]
    private static partial void LogTopology(ILogger logger, int count, int created);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Fleet simulator heartbeat failed: {Reason}")]
    private static partial void LogTickFailed(ILogger logger, string reason);

    private sealed class SimulatedHost(string name, SimulatedVmDriver driver)
    {
        public string Name { get; } = name;

        public SimulatedVmDriver Driver { get; } = driver;

        public ConvergeResult Last { get; set; } = ConvergeResult.None;
    }

    private sealed record SimulatedSite(string Name, string DisplayName);

    private sealed record SimulatedCluster(string Name, string Site, string? Zone);

    private sealed record SimulatedRack(string Name, string Cluster);
}
