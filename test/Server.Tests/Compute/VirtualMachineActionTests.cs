using System.Net;

namespace Holdfast.Server.Tests.Compute;

/// <summary>
/// A VM's power actions on the simulated fleet: each is a long-running operation that finishes when the host reports the
/// wanted state; deallocate frees the capacity (quota stays charged, as Azure's) and start places the VM again.
/// </summary>
public sealed class VirtualMachineActionTests : IAsyncLifetime
{
    private ComputeTestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await ComputeTestServer.StartAsync(simulatedHosts: 1);
        await _server.CreateGroupAsync("rg");
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_D4s_v3"));
        Assert.Equal("Succeeded", (await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1")))!["properties"]!["provisioningState"]!.GetValue<string>());
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task PowerOff_ThenStart_StopsAndRunsTheVmKeepingItsHost()
    {
        await ActAsync("powerOff");
        Assert.Equal("PowerState/stopped", await PowerStateAsync());
        Assert.Equal(4, (await _server.RecordAsync(ComputeTestServer.SimHost)).Used.VCpus);

        await ActAsync("start");
        Assert.Equal("PowerState/running", await PowerStateAsync());
    }

    [Fact]
    public async Task Deallocate_FreesCapacityKeepsQuota_AndStartPlacesAgain()
    {
        await ActAsync("deallocate");

        Assert.Equal("PowerState/deallocated", await PowerStateAsync());
        Assert.Empty((await _server.RecordAsync(ComputeTestServer.SimHost)).Allocations);
        Assert.Empty(await _server.InstancesAsync());
        Assert.Equal(4, (await _server.UsagesAsync())["cores"].Current);

        // A tags-only update of a deallocated VM does not place it.
        var (patched, _) = await _server.SendAsync(HttpMethod.Patch, _server.VmPath("rg", "vm1"), ComputeTestServer.Json("""{"tags":{"a":"b"}}"""));
        Assert.Equal(HttpStatusCode.OK, patched);
        await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));
        Assert.Empty(await _server.InstancesAsync());

        await ActAsync("start");
        Assert.Equal("PowerState/running", await PowerStateAsync());
        Assert.Equal(4, (await _server.RecordAsync(ComputeTestServer.SimHost)).Used.VCpus);
    }

    [Fact]
    public async Task Restart_EndsRunningAtTheSameEpoch()
    {
        var before = Assert.Single(await _server.InstancesAsync());

        await ActAsync("restart");

        Assert.Equal("PowerState/running", await PowerStateAsync());
        var after = Assert.Single(await _server.InstancesAsync());
        Assert.Equal((before.Host, before.Epoch), (after.Host, after.Epoch));
        Assert.Empty((await _server.Store.RangeAsync(new Holdfast.State.RangeRequest("/capacity/vmpower/"), _server.Ct)).Items);
    }

    [Fact]
    public async Task Restart_OfADeallocatedVm_IsRefused()
    {
        await ActAsync("deallocate");

        var (status, body) = await _server.SendAsync(HttpMethod.Post, ActionPath("restart"));

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("OperationNotAllowed", body["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Action_OnAMissingVm_Is404()
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Post, $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/nope/start?api-version=2023-07-01");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("ResourceNotFound", body["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Delete_OfADeallocatedVm_CreditsQuotaAndLeavesNoIntent()
    {
        await ActAsync("deallocate");

        await _server.SendAsync(HttpMethod.Delete, _server.VmPath("rg", "vm1"));
        await _server.WaitGoneAsync(_server.VmPath("rg", "vm1"));

        Assert.Equal(0, (await _server.UsagesAsync())["cores"].Current);
        Assert.Empty((await _server.Store.RangeAsync(new Holdfast.State.RangeRequest("/capacity/vmpower/"), _server.Ct)).Items);
    }

    private string ActionPath(string action) =>
        $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/{action}?api-version=2023-07-01";

    /// <summary>Posts the action and polls its Azure-AsyncOperation monitor to Succeeded.</summary>
    private async Task ActAsync(string action)
    {
        using var response = await _server.Admin.PostAsync(ActionPath(action), null, _server.Ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.NotNull(response.Headers.Location);
        var monitor = response.Headers.GetValues("Azure-AsyncOperation").Single();
        while (true)
        {
            var (_, status) = await _server.SendAsync(HttpMethod.Get, monitor);
            var value = status["status"]!.GetValue<string>();
            if (value != "InProgress")
            {
                Assert.Equal("Succeeded", value);
                return;
            }

            await Task.Delay(25, _server.Ct);
        }
    }

    private async Task<string> PowerStateAsync()
    {
        var (_, view) = await _server.SendAsync(HttpMethod.Get, $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/instanceView?api-version=2023-07-01");
        return view["statuses"]!.AsArray().Select(s => s!["code"]!.GetValue<string>()).Single(c => c.StartsWith("PowerState/", StringComparison.Ordinal));
    }
}
