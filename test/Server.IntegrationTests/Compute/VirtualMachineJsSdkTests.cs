using Azure;
using Azure.Core;
using Azure.ResourceManager.Resources;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Compute;

/// <summary>
/// A VM as Azure's JavaScript SDK samples build one (@azure/arm-network 35.0.0 at 2025-03-01, @azure/arm-compute 23.1.0
/// at 2025-04-01 and disks at 2025-01-02), by node against the real server on its simulated fleet: JsSdk/virtualmachine.mjs
/// creates a VNet with a subnet, a NIC and a VM with beginCreateOrUpdateAndWait, reads its instance view, runs powerOff,
/// start, restart and deallocate as long-running operations, lists and deletes it, then its NIC and VNet. The refusals
/// (NIC in use, a size no host can hold) reach the script as RestErrors with Azure's codes.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class VirtualMachineJsSdkTests(ServerFixture fixture)
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromMinutes(4);
    private static readonly AzureLocation Local = new("local");

    [Fact]
    public async Task JavaScriptSdk_VirtualMachineWithNetwork_RunsThroughItsLifecycleAndLeavesNothing()
    {
        await JsSdkProject.EnsureRestoredAsync();
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();
        var group = (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, ServerFixture.UniqueName("jsvm"), new ResourceGroupData(Local))).Value;
        var environment = JsSdkProject.Environment(fixture.Credentials);
        environment["HOLDFAST_GROUP"] = group.Data.Name;
        environment["HOLDFAST_LOCATION"] = Local.Name;

        var result = await JsSdkProject.RunScriptAsync("virtualmachine.mjs", environment, NodeTimeout);

        var vmId = $"{group.Id}/providers/Microsoft.Compute/virtualMachines/vm1";
        var nicId = $"{group.Id}/providers/Microsoft.Network/networkInterfaces/vm1-nic";
        Assert.Equal("Succeeded", Text(result["vnet"]!["provisioningState"]));
        Assert.Equal(["default"], result["vnet"]!["subnets"]!.AsArray().Select(Text));
        Assert.StartsWith("10.60.0.", Text(result["nic"]!["privateIPAddress"]), StringComparison.Ordinal);
        Assert.Equal(vmId, Text(result["nic"]!["virtualMachine"]), ignoreCase: true);

        var vm = result["vm"]!;
        Assert.Equal(vmId, Text(vm["id"]), ignoreCase: true);
        Assert.Equal("Succeeded", Text(vm["provisioningState"]));
        Assert.Equal("Standard_D2s_v3", Text(vm["vmSize"]));
        Assert.Null(vm["adminPassword"]);
        Assert.Equal(nicId, Text(Assert.Single(vm["nics"]!.AsArray())), ignoreCase: true);
        var statuses = vm["instanceViewStatuses"]!.AsArray().Select(Text).ToList();
        Assert.Contains("ProvisioningState/succeeded", statuses);
        Assert.Contains("PowerState/running", statuses);

        // The OS disk exists while the VM does, attached to it.
        var disk = Assert.Single(result["disksWhileRunning"]!.AsArray())!;
        Assert.StartsWith("vm1_OsDisk_1_", Text(disk["name"]), StringComparison.Ordinal);
        Assert.Equal(vmId, Text(disk["managedBy"]), ignoreCase: true);

        Assert.Equal("RestError", Text(result["nicInUse"]!["name"]));
        Assert.Equal("NicInUse", Text(result["nicInUse"]!["code"]));
        Assert.Equal(400, result["nicInUse"]!["statusCode"]!.GetValue<int>());
        Assert.Equal("RestError", Text(result["tooBig"]!["name"]));
        Assert.Equal("SkuNotAvailable", Text(result["tooBig"]!["code"]));
        Assert.Equal(409, result["tooBig"]!["statusCode"]!.GetValue<int>());

        var states = result["states"]!;
        Assert.Equal("PowerState/stopped", Text(states["powerOff"]));
        Assert.Equal("PowerState/running", Text(states["start"]));
        Assert.Equal("PowerState/running", Text(states["restart"]));
        Assert.Equal("PowerState/deallocated", Text(states["deallocate"]));

        Assert.Equal(["vm1"], result["listed"]!.AsArray().Select(Text));
        Assert.Contains(vmId, result["listedAll"]!.AsArray().Select(Text), StringComparer.OrdinalIgnoreCase);
        Assert.Empty(result["disksAfterDelete"]!.AsArray());

        // Nothing is left in the group: no VM, disk, NIC or network (nor the refused VM).
        var left = new List<string>();
        await foreach (var resource in group.GetGenericResourcesAsync())
        {
            left.Add(resource.Id.ToString());
        }

        Assert.Empty(left);
        await group.DeleteAsync(WaitUntil.Completed);
    }

    private static string Text(System.Text.Json.Nodes.JsonNode? node) => node?.GetValue<string>() ?? "(null)";
}
