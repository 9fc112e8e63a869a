using System.Security.Cryptography.X509Certificates;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;

namespace Holdfast.Server.Tests.Agents;

/// <summary>Heartbeats, Unreachable/Failed, healing and fencing on a manual clock (sweeps are called, not timed).</summary>
public sealed class HostHealthMonitorTests : IAsyncLifetime
{
    private AgentHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await AgentHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task SweepAsync_SilentHost_GoesUnreachableThenFailedAndItsInstancesMoveOnce()
    {
        using var h1 = await InServiceAsync("h1");
        var vm1 = await _harness.PlaceAsync("vm-1");
        var vm2 = await _harness.PlaceAsync("vm-2");
        Assert.Equal(("h1", "h1"), (vm1.Host, vm2.Host));
        using var h2 = await InServiceAsync("h2");

        await AdvanceKeepingAliveAsync(h2, "h2", seconds: 10);
        Assert.Equal(HostState.InService, (await _harness.ReadHostAsync("h1")).State);
        await AdvanceKeepingAliveAsync(h2, "h2", seconds: 5);
        Assert.Equal(HostState.Unreachable, (await _harness.ReadHostAsync("h1")).State);
        Assert.Equal("h1", (await _harness.ReadInstanceAsync("vm-1"))!.Host);

        await AdvanceKeepingAliveAsync(h2, "h2", seconds: 44);
        Assert.Equal(HostState.Unreachable, (await _harness.ReadHostAsync("h1")).State);
        await AdvanceKeepingAliveAsync(h2, "h2", seconds: 1);

        var failed = await _harness.ReadHostAsync("h1");
        Assert.Equal(HostState.Failed, failed.State);
        Assert.Contains("No heartbeat", failed.StateReason, StringComparison.Ordinal);
        foreach (var before in new[] { vm1, vm2 })
        {
            var after = (await _harness.ReadInstanceAsync(before.Id))!;
            Assert.Equal(("h2", before.Epoch + 1), (after.Host, after.Epoch));
        }

        var allocations = await _harness.AllocationsAsync();
        Assert.Equal([("h2", "vm-1"), ("h2", "vm-2")], allocations.OrderBy(a => a.Id, StringComparer.Ordinal));

        // The moved VMs come up on h2 at the new epoch.
        var onH2 = await _harness.SyncAsync(h2, "h2");
        Assert.Equal([("vm-1", vm1.Epoch + 1), ("vm-2", vm2.Epoch + 1)], onH2.Desired.Select(d => (d.Id, d.Epoch)));
    }

    [Fact]
    public async Task SyncAsync_FailedHostReturns_IsAnsweredWithNothingAndStaysFailed()
    {
        using var h1 = await InServiceAsync("h1");
        var vm1 = await _harness.PlaceAsync("vm-1");
        using var h2 = await InServiceAsync("h2");
        await AdvanceKeepingAliveAsync(h2, "h2", seconds: 60);
        Assert.Equal(HostState.Failed, (await _harness.ReadHostAsync("h1")).State);

        var answer = await _harness.SyncAsync(h1, "h1", new InstanceReport("vm-1", PowerState.Running, vm1.Epoch));

        Assert.Equal(HostState.Failed, answer.HostState);
        Assert.Empty(answer.Desired);
        Assert.Equal(HostState.Failed, (await _harness.ReadHostAsync("h1")).State);
        var moved = (await _harness.ReadInstanceAsync("vm-1"))!;
        Assert.Equal("h2", moved.Host);
        Assert.Null(moved.Observed);

        await _harness.SweepAsync();
        Assert.Equal(HostState.Failed, (await _harness.ReadHostAsync("h1")).State);
        Assert.Equal([("h2", "vm-1")], await _harness.AllocationsAsync());
    }

    [Fact]
    public async Task SyncAsync_UnreachableHostReturnsBeforeFailed_IsBackInServiceWithItsInstances()
    {
        using var h1 = await InServiceAsync("h1");
        var vm1 = await _harness.PlaceAsync("vm-1");
        _harness.Time.Advance(TimeSpan.FromSeconds(20));
        await _harness.SweepAsync();
        Assert.Equal(HostState.Unreachable, (await _harness.ReadHostAsync("h1")).State);

        var answer = await _harness.SyncAsync(h1, "h1");

        Assert.Equal(HostState.InService, answer.HostState);
        Assert.Equal(HostState.InService, (await _harness.ReadHostAsync("h1")).State);
        Assert.Equal([("vm-1", vm1.Epoch)], answer.Desired.Select(d => (d.Id, d.Epoch)));
        _harness.Time.Advance(TimeSpan.FromSeconds(45));
        await _harness.SweepAsync();
        Assert.NotEqual(HostState.Failed, (await _harness.ReadHostAsync("h1")).State);
    }

    [Fact]
    public async Task SweepAsync_NoRoomElsewhere_InstanceWaitsThenLandsWhenAHostEntersService()
    {
        using var h1 = await InServiceAsync("h1");
        await _harness.PlaceAsync("vm-1");
        _harness.Time.Advance(TimeSpan.FromSeconds(60));
        await _harness.SweepAsync();

        var waiting = (await _harness.ReadInstanceAsync("vm-1"))!;
        Assert.Null(waiting.Host);
        Assert.StartsWith("Waiting for capacity", waiting.Error, StringComparison.Ordinal);
        Assert.Empty(await _harness.AllocationsAsync());

        using var h2 = await InServiceAsync("h2");
        _harness.Time.Advance(TimeSpan.FromSeconds(6));
        await _harness.SyncAsync(h2, "h2");
        await _harness.SweepAsync();

        var placed = (await _harness.ReadInstanceAsync("vm-1"))!;
        Assert.Equal(("h2", (string?)null), (placed.Host, placed.Error));
        Assert.Equal([("h2", "vm-1")], await _harness.AllocationsAsync());
    }

    [Fact]
    public async Task SweepAsync_HostNeverHeardSinceStart_GetsTheFailedTimeOfGrace()
    {
        await _harness.PutHostAsync("h1", HostState.InService);

        _harness.Time.Advance(TimeSpan.FromSeconds(59));
        await _harness.SweepAsync();
        Assert.Equal(HostState.Unreachable, (await _harness.ReadHostAsync("h1")).State);

        _harness.Time.Advance(TimeSpan.FromSeconds(1));
        await _harness.SweepAsync();
        Assert.Equal(HostState.Failed, (await _harness.ReadHostAsync("h1")).State);
    }

    [Fact]
    public async Task SweepAsync_ValidatingOrProvisioningHost_IsNotJudgedByHeartbeats()
    {
        await _harness.PutHostAsync("h1", HostState.Provisioning);
        await _harness.PutHostAsync("h2", HostState.Validating);

        _harness.Time.Advance(TimeSpan.FromSeconds(120));
        await _harness.SweepAsync();

        Assert.Equal((HostState.Provisioning, HostState.Validating), ((await _harness.ReadHostAsync("h1")).State, (await _harness.ReadHostAsync("h2")).State));
    }

    private async Task AdvanceKeepingAliveAsync(X509Certificate2 certificate, string host, int seconds)
    {
        _harness.Time.Advance(TimeSpan.FromSeconds(seconds));
        await _harness.SyncAsync(certificate, host);
        await _harness.SweepAsync();
    }

    private async Task<X509Certificate2> InServiceAsync(string host)
    {
        await _harness.PutHostAsync(host, HostState.Provisioning);
        var certificate = await _harness.JoinAsync(host, await _harness.PutJoinTokenAsync(host, TimeSpan.FromHours(1)));
        Assert.Equal(HostState.InService, (await _harness.SyncAsync(certificate, host)).HostState);
        return certificate;
    }
}
