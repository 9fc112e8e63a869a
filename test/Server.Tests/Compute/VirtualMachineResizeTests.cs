using System.Net;
using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;
using Holdfast.Fabric;
using Holdfast.State;

namespace Holdfast.Server.Tests.Compute;

/// <summary>
/// Resizing a VM (a PUT or PATCH with a new <c>hardwareProfile.vmSize</c>) on the simulated fleet: quota is charged for
/// the added vCPUs in the write, the allocation grows on the same host when it fits, else the VM moves to a host that
/// fits; either way the host re-creates it (a restart). No host fits: <c>AllocationFailed</c>, and the VM keeps its old
/// size, host and quota. Other tenants' load is simulated by extra allocations written into the hosts' records.
/// </summary>
public sealed class VirtualMachineResizeTests : IAsyncLifetime
{
    private ComputeTestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await ComputeTestServer.StartAsync(simulatedHosts: 2);
        await _server.CreateGroupAsync("rg");
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_D4s_v3"));
        Assert.Equal("Succeeded", (await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1")))!["properties"]!["provisioningState"]!.GetValue<string>());
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Put_WithALargerSizeThatFitsItsHost_GrowsInPlaceAndRestartsIt()
    {
        var before = Assert.Single(await _server.InstancesAsync());

        var (status, _) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_D8s_v3"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(8, (await _server.UsagesAsync())["cores"].Current);
        var vm = await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));
        Assert.Equal("Succeeded", vm!["properties"]!["provisioningState"]!.GetValue<string>());
        Assert.Equal("Standard_D8s_v3", vm["properties"]!["hardwareProfile"]!["vmSize"]!.GetValue<string>());
        var after = Assert.Single(await _server.InstancesAsync());
        Assert.Equal(before.Host, after.Host);
        Assert.True(after.Epoch > before.Epoch);
        Assert.Equal(("Standard_D8s_v3", PowerState.Running, after.Epoch), (after.Size, after.Observed!.PowerState, after.Observed.Epoch));
        Assert.Equal(new CapacityVector(8, 32 * 1024, 64, 0), (await _server.RecordAsync(before.Host!)).Used);
    }

    [Fact]
    public async Task Patch_WithASmallerSize_ShrinksAndCreditsQuota()
    {
        var (status, _) = await _server.SendAsync(HttpMethod.Patch, _server.VmPath("rg", "vm1"), ComputeTestServer.Json("""{"properties":{"hardwareProfile":{"vmSize":"Standard_D2s_v3"}}}"""));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, (await _server.UsagesAsync())["cores"].Current);
        Assert.Equal("Succeeded", (await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1")))!["properties"]!["provisioningState"]!.GetValue<string>());
        var instance = Assert.Single(await _server.InstancesAsync());
        Assert.Equal(2, (await _server.RecordAsync(instance.Host!)).Used.VCpus);
    }

    [Fact]
    public async Task Put_WhenItsHostCannotGrowIt_MovesToAHostThatFits()
    {
        var before = Assert.Single(await _server.InstancesAsync());
        await LoadAsync(before.Host!, 24);

        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_D16s_v3"));

        var vm = await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));
        Assert.Equal("Succeeded", vm!["properties"]!["provisioningState"]!.GetValue<string>());
        var after = Assert.Single(await _server.InstancesAsync());
        Assert.NotEqual(before.Host, after.Host);
        Assert.Equal((PowerState.Running, after.Epoch), (after.Observed!.PowerState, after.Observed.Epoch));
        Assert.Equal(24, (await _server.RecordAsync(before.Host!)).Used.VCpus);
        Assert.Equal(16, (await _server.RecordAsync(after.Host!)).Used.VCpus);
        Assert.Equal(16, (await _server.UsagesAsync())["cores"].Current);
    }

    [Fact]
    public async Task Put_WhenNoHostFits_FailsWithAllocationFailedKeepingSizeHostAndQuota()
    {
        var before = Assert.Single(await _server.InstancesAsync());
        await LoadAsync(ComputeTestServer.FleetHostName(1), 24);
        await LoadAsync(ComputeTestServer.FleetHostName(2), 24);

        var (status, _) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_D16s_v3"));

        Assert.Equal(HttpStatusCode.OK, status);
        var vm = await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));
        Assert.Equal("Failed", vm!["properties"]!["provisioningState"]!.GetValue<string>());
        Assert.Equal("Standard_D4s_v3", vm["properties"]!["hardwareProfile"]!["vmSize"]!.GetValue<string>());
        Assert.Equal(4, (await _server.UsagesAsync())["cores"].Current);
        var after = Assert.Single(await _server.InstancesAsync());
        Assert.Equal((before.Host, before.Epoch, "Standard_D4s_v3"), (after.Host, after.Epoch, after.Size));
        Assert.Equal(28, (await _server.RecordAsync(before.Host!)).Used.VCpus);
        Assert.Empty((await _server.Store.RangeAsync(new RangeRequest("/capacity/vmpower/"), _server.Ct)).Items);
        var (_, view) = await _server.SendAsync(HttpMethod.Get, $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/instanceView?api-version=2023-07-01");
        var provisioning = view["statuses"]![0]!;
        Assert.Equal(("ProvisioningState/failed/AllocationFailed", "Error", "Provisioning failed"), (provisioning["code"]!.GetValue<string>(), provisioning["level"]!.GetValue<string>(), provisioning["displayStatus"]!.GetValue<string>()));
        Assert.Contains("Standard_D16s_v3", provisioning["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("PowerState/running", view["statuses"]![1]!["code"]!.GetValue<string>());

        // A retry that fits clears the failure from the instance view.
        var (retry, _) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_D4s_v3"));
        Assert.Equal(HttpStatusCode.OK, retry);
        Assert.Equal("Succeeded", (await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1")))!["properties"]!["provisioningState"]!.GetValue<string>());
        (_, view) = await _server.SendAsync(HttpMethod.Get, $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/instanceView?api-version=2023-07-01");
        Assert.Equal("ProvisioningState/succeeded", view["statuses"]![0]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Patch_OfADeallocatedVm_TakesTheNewSizeWhenStartedAgain()
    {
        await ActAsync("deallocate");

        var (status, _) = await _server.SendAsync(HttpMethod.Patch, _server.VmPath("rg", "vm1"), ComputeTestServer.Json("""{"properties":{"hardwareProfile":{"vmSize":"Standard_D8s_v3"}}}"""));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Succeeded", (await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1")))!["properties"]!["provisioningState"]!.GetValue<string>());
        Assert.Empty(await _server.InstancesAsync());
        Assert.Equal(8, (await _server.UsagesAsync())["cores"].Current);
        await ActAsync("start");
        var instance = Assert.Single(await _server.InstancesAsync());
        Assert.Equal(("Standard_D8s_v3", 8), (instance.Size, (await _server.RecordAsync(instance.Host!)).Used.VCpus));
        Assert.Equal(PowerState.Running, instance.Observed!.PowerState);
    }

    [Fact]
    public async Task Put_WithASizeBeyondQuota_IsRefusedAndChangesNothing()
    {
        var (quota, _) = await _server.SendAsync(HttpMethod.Put, $"providers/Holdfast.Capacity/quotas/{_server.Subscription}?api-version=2025-01-01", ComputeTestServer.Json("""{"properties":{"totalRegionalVCpus":8}}"""));
        Assert.True(quota is HttpStatusCode.Created or HttpStatusCode.OK);

        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_D16s_v3"));

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("OperationNotAllowed", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal("QuotaExceeded", body["error"]!["details"]![0]!["code"]!.GetValue<string>());
        Assert.Equal(4, (await _server.UsagesAsync())["cores"].Current);
        var (_, vm) = await _server.SendAsync(HttpMethod.Get, _server.VmPath("rg", "vm1"));
        Assert.Equal("Standard_D4s_v3", vm["properties"]!["hardwareProfile"]!["vmSize"]!.GetValue<string>());
    }

    [Fact]
    public async Task Put_WithASizeNoHostCouldHold_IsSkuNotAvailable()
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_D64s_v3"));

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("SkuNotAvailable", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal(4, (await _server.UsagesAsync())["cores"].Current);
    }

    /// <summary>Posts a power action and polls its Azure-AsyncOperation monitor to Succeeded.</summary>
    private async Task ActAsync(string action)
    {
        using var response = await _server.Admin.PostAsync($"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/{action}?api-version=2023-07-01", null, _server.Ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var monitor = response.Headers.GetValues("Azure-AsyncOperation").Single();
        while (true)
        {
            var (_, status) = await _server.SendAsync(HttpMethod.Get, monitor);
            if (status["status"]!.GetValue<string>() != "InProgress")
            {
                Assert.Equal("Succeeded", status["status"]!.GetValue<string>());
                return;
            }

            await Task.Delay(25, _server.Ct);
        }
    }

    /// <summary>Simulates another tenant's VM on <paramref name="host"/>: an allocation of <paramref name="vcpus"/> written into its record.</summary>
    private async Task LoadAsync(string host, int vcpus)
    {
        var record = await _server.RecordAsync(host);
        var loaded = record.WithAllocation(new Allocation("other-" + host, new CapacityVector(vcpus, 1024, 0, 0)), ComputeTestServer.SimShape)!;
        var key = FabricKeys.Allocations(host);
        var result = await _server.Store.TxnAsync(
            new TxnRequest([record.Version == 0 ? Compare.Absent(key) : Compare.ModRevisionIs(key, record.Version)], [TxnOp.Put(key, AllocationRecordCodec.Encode(loaded))]),
            _server.Ct);
        Assert.True(result.Succeeded);
        await _server.Capacity.WaitForRevisionAsync(result.Revision, _server.Ct);
    }
}
