using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Server.Agents;
using Microsoft.Extensions.Logging.Abstractions;

namespace Holdfast.Server.Tests.Agents;

public sealed class FleetSimulatorTests : IAsyncLifetime
{
    private AgentHarness _harness = null!;
    private FleetSimulator _simulator = null!;

    public async Task InitializeAsync()
    {
        _harness = await AgentHarness.StartAsync(new HoldfastServerOptions { DataDirectory = "unused", SimulatedHosts = 10 });
        _simulator = NewSimulator();
    }

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task EnsureTopologyAsync_TwiceOnTheSameStore_CreatesTheFleetOnce()
    {
        await _simulator.EnsureTopologyAsync(AgentHarness.Ct);
        var first = await _harness.Store.GetRevisionAsync(AgentHarness.Ct);

        await NewSimulator().EnsureTopologyAsync(AgentHarness.Ct);

        Assert.Equal(first, await _harness.Store.GetRevisionAsync(AgentHarness.Ct));
        var hosts = (await _harness.Store.RangeAsync(new State.RangeRequest(FabricKeys.HostsPrefix), AgentHarness.Ct)).Items
            .Select(kv => FabricJson.Deserialize<HostDocument>(kv.Value.Span)).ToList();
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"sim-{i:D4}"), hosts.Select(h => h.Name));
        Assert.All(hosts, h => Assert.True(h.Simulated && h.State == HostState.InService && h.Site == "local" && h.Cluster == "local-1"));
        Assert.Equal(("rack-01", "rack-02"), (hosts[7].Rack, hosts[8].Rack));
        Assert.Equal(4, hosts[7].Capacity.Gpus);
        Assert.Equal(["simulated", "ssd", "gpu"], hosts[7].Traits);
        Assert.Equal(["simulated", "ssd"], hosts[6].Traits);
        Assert.Equal(new CapacityVector(32, 131072, 1024, 0), hosts[0].Capacity);
        Assert.NotNull(await _harness.Store.GetAsync(FabricKeys.Site("local"), AgentHarness.Ct));
        Assert.NotNull(await _harness.Store.GetAsync(FabricKeys.Cluster("local-1"), AgentHarness.Ct));
        Assert.NotNull(await _harness.Store.GetAsync(FabricKeys.Rack("rack-02"), AgentHarness.Ct));
    }

    [Fact]
    public async Task TickAsync_InstancePlacedOnTheSimulatedFleet_BecomesRunning()
    {
        await _simulator.EnsureTopologyAsync(AgentHarness.Ct);
        await _harness.CaughtUpAsync(await _harness.Store.GetRevisionAsync(AgentHarness.Ct));
        var placed = await _harness.PlaceAsync("vm-1");

        await _simulator.TickAsync(AgentHarness.Ct);

        var instance = (await _harness.ReadInstanceAsync("vm-1"))!;
        Assert.Equal((placed.Host, PowerState.Running, placed.Epoch), (instance.Observed!.Host, instance.Observed.PowerState, instance.Observed.Epoch));
        var vm = Assert.Single(await _simulator.DriverOf(placed.Host!)!.ListAsync(AgentHarness.Ct));
        Assert.Equal(("vm-1", PowerState.Running), (vm.Id, vm.PowerState));
    }

    [Fact]
    public async Task TickAsync_EverySimulatedHost_Heartbeats()
    {
        await _simulator.EnsureTopologyAsync(AgentHarness.Ct);
        await _harness.CaughtUpAsync(await _harness.Store.GetRevisionAsync(AgentHarness.Ct));
        _harness.Time.Advance(TimeSpan.FromSeconds(30));

        await _simulator.TickAsync(AgentHarness.Ct);
        await _harness.SweepAsync();

        Assert.All(Enumerable.Range(1, 10), i => Assert.Equal(_harness.Time.GetUtcNow(), _harness.Health.LastHeard(FleetSimulator.HostName(i))));
        var states = (await _harness.Store.RangeAsync(new State.RangeRequest(FabricKeys.HostsPrefix), AgentHarness.Ct)).Items.Select(kv => FabricJson.Deserialize<HostDocument>(kv.Value.Span).State);
        Assert.All(states, s => Assert.Equal(HostState.InService, s));
    }

    private FleetSimulator NewSimulator() =>
        new(_harness.Store, _harness.Agents, _harness.Capacity, _harness.Options, _harness.Time, NullLogger<FleetSimulator>.Instance);
}
