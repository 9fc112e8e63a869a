using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Server.Fabric;
using Holdfast.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Holdfast.Server.Tests.Fabric;

/// <summary>
/// The placement service against a real store contract (the in-memory backend): the index follows the store by
/// watch, every write is one transaction with compare-and-swap on the host's record, and two services placing on one
/// store at once (as two control-plane replicas would) never oversubscribe a host.
/// </summary>
public sealed class CapacityServiceTests : IAsyncLifetime, IDisposable
{
    private static readonly CapacityVector Small = new(2, 4096, 0, 0);
    private readonly InMemoryStateStore _store = new(TimeProvider.System);
    private readonly List<CapacityService> _services = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var service in _services)
        {
            await service.StopAsync(CancellationToken.None);
            service.Dispose();
        }

        await _store.DisposeAsync();
    }

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task Index_follows_hosts_written_before_and_after_start()
    {
        await PutHostAsync("h1", HostState.InService);
        var service = await StartAsync();
        Assert.NotNull(service.FindHost("h1"));

        var revision = await PutHostAsync("h2", HostState.InService);
        await service.WaitForRevisionAsync(revision, Ct);
        Assert.Equal(HostState.InService, service.FindHost("h2")!.Value.Description.State);

        revision = (await _store.DeleteAsync(FabricKeys.Host("h2"), null, Ct)).Revision;
        await service.WaitForRevisionAsync(revision, Ct);
        Assert.Null(service.FindHost("h2"));
    }

    [Fact]
    public async Task Place_writes_record_instance_and_caller_ops_in_one_transaction()
    {
        await PutHostAsync("h1", HostState.InService);
        var service = await StartAsync();

        var result = await service.PlaceAsync(Instance("vm-1"), [], [TxnOp.Put("/test/marker", "x"u8.ToArray())], Commit, Ct);

        Assert.True(result.Placed);
        Assert.Equal("h1", result.Host);
        var instance = await ReadInstanceAsync("vm-1");
        Assert.Equal("h1", instance!.Host);
        Assert.Equal(1, instance.Epoch);
        var record = await ReadRecordAsync("h1");
        Assert.Equal(["vm-1"], record.Allocations.Select(a => a.Id));
        Assert.Equal(result.Revision, (await _store.GetAsync("/test/marker", Ct))!.ModRevision);
        Assert.Equal("h1", service.HostOf("vm-1"));
    }

    [Fact]
    public async Task Place_of_an_existing_instance_answers_where_it_is_and_writes_nothing()
    {
        await PutHostAsync("h1", HostState.InService);
        var service = await StartAsync();
        var first = await service.PlaceAsync(Instance("vm-1"), [], [], Commit, Ct);

        var again = await service.PlaceAsync(Instance("vm-1"), [], [], Commit, Ct);

        Assert.True(again.Placed);
        Assert.Equal(first.Host, again.Host);
        Assert.Single((await ReadRecordAsync("h1")).Allocations);
    }

    [Fact]
    public async Task A_failed_caller_compare_writes_nothing_and_says_so()
    {
        await PutHostAsync("h1", HostState.InService);
        var service = await StartAsync();

        var result = await service.PlaceAsync(Instance("vm-1"), [Compare.Exists("/test/missing")], [], Commit, Ct);

        Assert.True(result.CallerCompareFailed);
        Assert.Null(await ReadInstanceAsync("vm-1"));
        Assert.Null(await _store.GetAsync(FabricKeys.Allocations("h1"), Ct));
    }

    [Fact]
    public async Task Nothing_fits_explains_and_writes_nothing()
    {
        await PutHostAsync("h1", HostState.Maintenance);
        await PutHostAsync("h2", HostState.InService, new CapacityVector(1, 1024, 0, 0));
        var service = await StartAsync();

        var result = await service.PlaceAsync(Instance("vm-1"), [], [], Commit, Ct);

        Assert.False(result.Placed);
        Assert.Equal(1, result.Explanation!.RejectedBy[Holdfast.Capacity.Placement.PlacementFilter.State]);
        Assert.Equal(1, result.Explanation.RejectedBy[Holdfast.Capacity.Placement.PlacementFilter.Capacity]);
        Assert.Null(await ReadInstanceAsync("vm-1"));
    }

    [Fact]
    public async Task Two_services_placing_concurrently_on_one_store_never_oversubscribe()
    {
        // 4 hosts × 8 vCPUs hold 16 VMs of 2 vCPUs; 40 concurrent requests from two placers with separate indexes.
        for (var i = 0; i < 4; i++)
        {
            await PutHostAsync($"h{i}", HostState.InService, new CapacityVector(8, 64 * 1024, 0, 0));
        }

        var a = await StartAsync();
        var b = await StartAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() => (i % 2 == 0 ? a : b).PlaceAsync(Instance($"vm-{i}"), [], [], Commit, Ct))));

        Assert.Equal(16, results.Count(r => r.Placed));
        for (var i = 0; i < 4; i++)
        {
            var record = await ReadRecordAsync($"h{i}");
            Assert.Equal(4, record.Allocations.Length);
            Assert.True(record.Used.VCpus <= 8);
        }

        var instances = await _store.RangeAsync(new RangeRequest(FabricKeys.InstancesPrefix, 100, null), Ct);
        Assert.Equal(16, instances.Items.Count);
    }

    [Fact]
    public async Task Place_racing_a_host_state_change_fails_its_compare_and_decides_again()
    {
        // h1 is the tighter fit, so it is chosen first; an operator moves it to Maintenance between decide and commit.
        await PutHostAsync("h1", HostState.InService, new CapacityVector(4, 8192, 0, 0));
        await PutHostAsync("h2", HostState.InService);
        var service = await StartAsync();
        var raced = new List<string>();

        async ValueTask<TxnResult> RacingCommit(TxnRequest request)
        {
            var target = request.Success.First(op => op.Key.StartsWith(FabricKeys.AllocationsPrefix, StringComparison.Ordinal)).Key;
            var host = FabricKeys.NameOf(target);
            if (raced.Count == 0)
            {
                raced.Add(host);
                await PutHostAsync(host, HostState.Maintenance, host == "h1" ? new CapacityVector(4, 8192, 0, 0) : null);
            }

            return await _store.TxnAsync(request, Ct);
        }

        var result = await service.PlaceAsync(Instance("vm-1"), [], [], RacingCommit, Ct);

        Assert.Equal(["h1"], raced);
        Assert.True(result.Placed);
        Assert.Equal("h2", result.Host);
        Assert.Empty((await ReadRecordAsync("h1")).Allocations);
        Assert.Equal("h2", (await ReadInstanceAsync("vm-1"))!.Host);
    }

    [Fact]
    public async Task Move_racing_a_host_state_change_never_lands_on_the_changed_host()
    {
        await PutHostAsync("h1", HostState.InService);
        var service = await StartAsync();
        Assert.True((await service.PlaceAsync(Instance("vm-1"), [], [], Commit, Ct)).Placed);
        await service.WaitForRevisionAsync(await PutHostAsync("h2", HostState.InService), Ct);
        await service.WaitForRevisionAsync(await PutHostAsync("h1", HostState.Draining), Ct);
        var raced = 0;

        async ValueTask<TxnResult> RacingCommit(TxnRequest request)
        {
            if (raced++ == 0)
            {
                await PutHostAsync("h2", HostState.Maintenance);
            }

            return await _store.TxnAsync(request, Ct);
        }

        var result = await service.MoveAsync("vm-1", unplaceIfNoRoom: false, RacingCommit, Ct);

        Assert.False(result.Placed);
        Assert.Equal("h1", (await ReadInstanceAsync("vm-1"))!.Host);
        Assert.Empty((await ReadRecordAsync("h2")).Allocations);
    }

    [Fact]
    public async Task Free_removes_the_allocation_and_the_instance_and_capacity_is_reusable()
    {
        await PutHostAsync("h1", HostState.InService, new CapacityVector(2, 4096, 0, 0));
        var service = await StartAsync();
        Assert.True((await service.PlaceAsync(Instance("vm-1"), [], [], Commit, Ct)).Placed);
        Assert.False((await service.PlaceAsync(Instance("vm-2"), [], [], Commit, Ct)).Placed);

        Assert.True(await service.FreeAsync("vm-1", [], [], Commit, Ct));

        Assert.Null(await ReadInstanceAsync("vm-1"));
        Assert.Empty((await ReadRecordAsync("h1")).Allocations);
        Assert.True((await service.PlaceAsync(Instance("vm-2"), [], [], Commit, Ct)).Placed);
        Assert.False(await service.FreeAsync("vm-404", [], [], Commit, Ct));
    }

    [Fact]
    public async Task Move_off_a_failed_host_bumps_the_epoch_and_waits_for_room_when_there_is_none()
    {
        await PutHostAsync("h1", HostState.InService);
        var service = await StartAsync();
        Assert.True((await service.PlaceAsync(Instance("vm-1"), [], [], Commit, Ct)).Placed);
        await service.WaitForRevisionAsync(await PutHostAsync("h1", HostState.Failed), Ct);

        var waiting = await service.MoveAsync("vm-1", unplaceIfNoRoom: true, Commit, Ct);

        Assert.False(waiting.Placed);
        var instance = await ReadInstanceAsync("vm-1");
        Assert.Null(instance!.Host);
        Assert.StartsWith("Waiting for capacity", instance.Error, StringComparison.Ordinal);
        Assert.Empty((await ReadRecordAsync("h1")).Allocations);

        await service.WaitForRevisionAsync(await PutHostAsync("h2", HostState.InService), Ct);
        var moved = await service.MoveAsync("vm-1", unplaceIfNoRoom: true, Commit, Ct);

        Assert.True(moved.Placed);
        Assert.Equal("h2", moved.Host);
        instance = await ReadInstanceAsync("vm-1");
        Assert.Equal(("h2", 2L, (string?)null), (instance!.Host, instance.Epoch, instance.Error));
        Assert.Equal(["vm-1"], (await ReadRecordAsync("h2")).Allocations.Select(a => a.Id));
    }

    [Fact]
    public async Task Move_off_a_draining_host_stays_put_when_nothing_else_fits()
    {
        await PutHostAsync("h1", HostState.InService);
        await PutHostAsync("h2", HostState.InService, new CapacityVector(1, 1024, 0, 0));
        var service = await StartAsync();
        Assert.True((await service.PlaceAsync(Instance("vm-1"), [], [], Commit, Ct)).Placed);
        await service.WaitForRevisionAsync(await PutHostAsync("h1", HostState.Draining), Ct);

        var result = await service.MoveAsync("vm-1", unplaceIfNoRoom: false, Commit, Ct);

        Assert.False(result.Placed);
        Assert.Equal("h1", (await ReadInstanceAsync("vm-1"))!.Host);
        Assert.Single((await ReadRecordAsync("h1")).Allocations);
    }

    [Fact]
    public async Task Hold_sets_capacity_aside_for_a_reservation_and_release_gives_it_back()
    {
        await PutHostAsync("h1", HostState.InService, new CapacityVector(8, 16 * 1024, 0, 0));
        var service = await StartAsync();

        var hold = await service.HoldAsync("res-1", Small, 3, null, Commit, Ct);

        Assert.Equal(3, hold.Held);
        Assert.Null(hold.Shortfall);
        // 6 of 8 vCPUs are held: an ordinary VM of 4 vCPUs no longer fits, one naming the reservation does.
        Assert.False((await service.PlaceAsync(Instance("vm-big", new CapacityVector(4, 4096, 0, 0)), [], [], Commit, Ct)).Placed);
        Assert.True((await service.PlaceAsync(Instance("vm-res") with { ReservationId = "res-1" }, [], [], Commit, Ct)).Placed);

        // 2 vCPUs are left for anyone: one more unit of another reservation, not five.
        var more = await service.HoldAsync("res-2", Small, 5, null, Commit, Ct);
        Assert.Equal(1, more.Held);
        Assert.NotNull(more.Shortfall);

        await service.ReleaseAsync("res-1", Commit, Ct);
        Assert.Equal(["res-2"], (await ReadRecordAsync("h1")).Reservations.Select(r => r.ReservationId));
        Assert.True((await service.PlaceAsync(Instance("vm-big", new CapacityVector(4, 4096, 0, 0)), [], [], Commit, Ct)).Placed);
    }

    [Fact]
    public async Task A_restarted_service_rebuilds_the_index_from_the_store()
    {
        await PutHostAsync("h1", HostState.InService, new CapacityVector(4, 8192, 0, 0));
        var first = await StartAsync();
        Assert.True((await first.PlaceAsync(Instance("vm-1"), [], [], Commit, Ct)).Placed);

        var second = await StartAsync();

        Assert.Equal("h1", second.HostOf("vm-1"));
        Assert.Equal(2, second.FindHost("h1")!.Value.Allocations.Used.VCpus);
        Assert.Equal(1, second.WhatIf(new Holdfast.Capacity.Placement.PlacementRequest("probe", Small), 5).Placeable);
    }

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(1));

    private CancellationToken Ct => _timeout.Token;

    private static InstanceDocument Instance(string id, CapacityVector? demand = null) => new() { Id = id, Demand = demand ?? Small };

    private ValueTask<TxnResult> Commit(TxnRequest request) => _store.TxnAsync(request, Ct);

    private async Task<CapacityService> StartAsync()
    {
        var service = new CapacityService(_store, NullLogger<CapacityService>.Instance);
        _services.Add(service);
        await service.StartAsync(Ct);
        await service.WaitLoadedAsync(Ct);
        return service;
    }

    private async Task<long> PutHostAsync(string name, HostState state, CapacityVector? capacity = null)
    {
        var host = new HostDocument
        {
            Name = name,
            Site = "s1",
            Cluster = "c1",
            Rack = "r-" + name,
            Capacity = capacity ?? new CapacityVector(16, 64 * 1024, 100, 0),
            State = state,
        };
        return (await _store.PutAsync(FabricKeys.Host(name), FabricJson.Serialize(host), null, Ct)).Revision;
    }

    private async Task<InstanceDocument?> ReadInstanceAsync(string id)
    {
        var kv = await _store.GetAsync(FabricKeys.Instance(id), Ct);
        return kv is null ? null : FabricJson.Deserialize<InstanceDocument>(kv.Value.Span);
    }

    private async Task<Holdfast.Capacity.Placement.HostAllocationRecord> ReadRecordAsync(string host)
    {
        var kv = await _store.GetAsync(FabricKeys.Allocations(host), Ct);
        return kv is null ? Holdfast.Capacity.Placement.HostAllocationRecord.Empty(host) : AllocationRecordCodec.Decode(kv.Value.Span, kv.ModRevision);
    }
}
