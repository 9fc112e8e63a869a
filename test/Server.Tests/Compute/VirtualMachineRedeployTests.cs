using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Fabric;

namespace Holdfast.Server.Tests.Compute;

/// <summary>
/// <c>POST …/virtualMachines/{vm}/redeploy</c> on the simulated fleet: the VM moves to another host (epoch bumped, the
/// old host drops its copy) and runs there; with no other host that fits it stays put and the operation fails with
/// <c>AllocationFailed</c>.
/// </summary>
public sealed class VirtualMachineRedeployTests
{
    [Fact]
    public async Task Redeploy_WithAnotherHost_MovesTheVmWhichRunsThere()
    {
        await using var server = await StartWithVmAsync(simulatedHosts: 2);
        var before = Assert.Single(await server.InstancesAsync());

        var (status, error) = await ActAsync(server, "redeploy");

        Assert.Equal("Succeeded", status);
        Assert.Null(error);
        var after = Assert.Single(await server.InstancesAsync());
        Assert.NotEqual(before.Host, after.Host);
        Assert.True(after.Epoch > before.Epoch);
        Assert.Equal((after.Host, PowerState.Running, after.Epoch), (after.Observed!.Host, after.Observed.PowerState, after.Observed.Epoch));
        Assert.Equal("PowerState/running", await PowerStateAsync(server));
        Assert.Equal(4, (await server.RecordAsync(after.Host!)).Used.VCpus);
        Assert.Empty((await server.RecordAsync(before.Host!)).Allocations);
        Assert.Empty((await server.Store.RangeAsync(new Holdfast.State.RangeRequest("/capacity/vmpower/"), server.Ct)).Items);
        while ((await server.Simulator.DriverOf(before.Host!)!.ListAsync(server.Ct)).Count > 0)
        {
            await Task.Delay(25, server.Ct);
        }

        Assert.Single(await server.Simulator.DriverOf(after.Host!)!.ListAsync(server.Ct));
        var vm = await server.WaitTerminalAsync(server.VmPath("rg", "vm1"));
        Assert.Equal("Succeeded", vm!["properties"]!["provisioningState"]!.GetValue<string>());
    }

    [Fact]
    public async Task Redeploy_WithNoOtherHost_FailsWithAllocationFailedAndKeepsTheVmWhereItIs()
    {
        await using var server = await StartWithVmAsync(simulatedHosts: 1);
        var before = Assert.Single(await server.InstancesAsync());

        var (status, error) = await ActAsync(server, "redeploy");

        Assert.Equal("Failed", status);
        Assert.Equal("AllocationFailed", error!["code"]!.GetValue<string>());
        var after = Assert.Single(await server.InstancesAsync());
        Assert.Equal((before.Host, before.Epoch), (after.Host, after.Epoch));
        Assert.Equal(4, (await server.RecordAsync(before.Host!)).Used.VCpus);
        Assert.Equal("PowerState/running", await PowerStateAsync(server));
        Assert.Empty((await server.Store.RangeAsync(new Holdfast.State.RangeRequest("/capacity/vmpower/"), server.Ct)).Items);
    }

    [Fact]
    public async Task Redeploy_OfADeallocatedVm_IsRefused()
    {
        await using var server = await StartWithVmAsync(simulatedHosts: 2);
        Assert.Equal("Succeeded", (await ActAsync(server, "deallocate")).Status);

        var (status, body) = await server.SendAsync(HttpMethod.Post, ActionPath(server, "redeploy"));

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("OperationNotAllowed", body["error"]!["code"]!.GetValue<string>());
        Assert.Empty(await server.InstancesAsync());
    }

    private static async Task<ComputeTestServer> StartWithVmAsync(int simulatedHosts)
    {
        var server = await ComputeTestServer.StartAsync(simulatedHosts);
        await server.CreateGroupAsync("rg");
        await server.SendAsync(HttpMethod.Put, server.VmPath("rg", "vm1"), ComputeTestServer.VmBody("Standard_D4s_v3"));
        Assert.Equal("Succeeded", (await server.WaitTerminalAsync(server.VmPath("rg", "vm1")))!["properties"]!["provisioningState"]!.GetValue<string>());
        return server;
    }

    private static string ActionPath(ComputeTestServer server, string action) =>
        $"subscriptions/{server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/{action}?api-version=2023-07-01";

    /// <summary>Posts the action and polls its Azure-AsyncOperation monitor to a terminal status (and its error).</summary>
    private static async Task<(string Status, JsonObject? Error)> ActAsync(ComputeTestServer server, string action)
    {
        using var response = await server.Admin.PostAsync(ActionPath(server, action), null, server.Ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var monitor = response.Headers.GetValues("Azure-AsyncOperation").Single();
        while (true)
        {
            var (_, status) = await server.SendAsync(HttpMethod.Get, monitor);
            var value = status["status"]!.GetValue<string>();
            if (value != "InProgress")
            {
                return (value, status["error"] as JsonObject);
            }

            await Task.Delay(25, server.Ct);
        }
    }

    private static async Task<string> PowerStateAsync(ComputeTestServer server)
    {
        var (_, view) = await server.SendAsync(HttpMethod.Get, $"subscriptions/{server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/instanceView?api-version=2023-07-01");
        return view["statuses"]!.AsArray().Select(s => s!["code"]!.GetValue<string>()).Single(c => c.StartsWith("PowerState/", StringComparison.Ordinal));
    }
}
