using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Compute;

/// <summary>
/// A VM built the way the SDK samples build one, against the real server on its simulated fleet: a virtual network
/// with a subnet and a network interface (generic resources: the mirror has no Network SDK), then a VM that uses the
/// NIC and an OS disk deleted with it. The NIC is in use while the VM exists, the VM runs through stop, start and
/// deallocate, and deleting it leaves the NIC free and no disk behind.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class VmWithNetworkSdkTests(ServerFixture fixture)
{
    private static readonly AzureLocation Local = new("local");

    [Fact]
    public async Task VirtualMachine_WithNicAndOsDisk_AsTheSdkSamplesBuildIt()
    {
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();
        var group = (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, ServerFixture.UniqueName("vmnet"), new ResourceGroupData(Local))).Value;
        var resources = fixture.Arm.GetGenericResources();
        var vnetId = new ResourceIdentifier($"{group.Id}/providers/Microsoft.Network/virtualNetworks/vnet1");
        await resources.CreateOrUpdateAsync(WaitUntil.Completed, vnetId, new GenericResourceData(Local)
        {
            Properties = BinaryData.FromString("""{"addressSpace":{"addressPrefixes":["10.50.0.0/16"]},"subnets":[{"name":"default","properties":{"addressPrefix":"10.50.0.0/24"}}]}"""),
        });
        var nicId = new ResourceIdentifier($"{group.Id}/providers/Microsoft.Network/networkInterfaces/vm1-nic");
        await resources.CreateOrUpdateAsync(WaitUntil.Completed, nicId, new GenericResourceData(Local)
        {
            Properties = BinaryData.FromObjectAsJson(new { ipConfigurations = new[] { new { name = "ipconfig1", properties = new { subnet = new { id = $"{vnetId}/subnets/default" } } } } }),
        });

        var data = new VirtualMachineData(Local)
        {
            HardwareProfile = new VirtualMachineHardwareProfile { VmSize = VirtualMachineSizeType.StandardD2SV3 },
            StorageProfile = new VirtualMachineStorageProfile
            {
                ImageReference = new ImageReference { Publisher = "Canonical", Offer = "0001-com-ubuntu-server-jammy", Sku = "22_04-lts-gen2", Version = "latest" },
                OSDisk = new VirtualMachineOSDisk(DiskCreateOptionType.FromImage) { DeleteOption = DiskDeleteOptionType.Delete },
            },
            OSProfile = new VirtualMachineOSProfile { ComputerName = "vm1", AdminUsername = "azureuser", AdminPassword = "Sdk-Passw0rd!" },
            NetworkProfile = new VirtualMachineNetworkProfile(),
        };
        data.NetworkProfile.NetworkInterfaces.Add(new VirtualMachineNetworkInterfaceReference { Id = nicId, Primary = true });
        var vm = (await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "vm1", data)).Value;

        Assert.Equal("Succeeded", vm.Data.ProvisioningState);
        Assert.Equal(nicId.ToString(), vm.Data.NetworkProfile.NetworkInterfaces.Single().Id.ToString(), ignoreCase: true);
        Assert.Contains((await vm.InstanceViewAsync()).Value.Statuses, s => s.Code == "PowerState/running");
        var nic = (await resources.GetAsync(nicId)).Value;
        using (var properties = JsonDocument.Parse(nic.Data.Properties.ToString()))
        {
            Assert.Equal(vm.Id.ToString(), properties.RootElement.GetProperty("virtualMachine").GetProperty("id").GetString(), ignoreCase: true);
            Assert.StartsWith("10.50.0.", properties.RootElement.GetProperty("ipConfigurations")[0].GetProperty("properties").GetProperty("privateIPAddress").GetString(), StringComparison.Ordinal);
        }

        var inUse = await Assert.ThrowsAsync<RequestFailedException>(() => nic.DeleteAsync(WaitUntil.Completed));
        Assert.Equal("NicInUse", inUse.ErrorCode);
        Assert.Single(await ToListAsync(group.GetManagedDisks().GetAllAsync()));

        await vm.PowerOffAsync(WaitUntil.Completed);
        Assert.Contains((await vm.InstanceViewAsync()).Value.Statuses, s => s.Code == "PowerState/stopped");
        await vm.PowerOnAsync(WaitUntil.Completed);
        await vm.DeallocateAsync(WaitUntil.Completed);
        Assert.Contains((await vm.InstanceViewAsync()).Value.Statuses, s => s.Code == "PowerState/deallocated");
        await vm.PowerOnAsync(WaitUntil.Completed);
        Assert.Contains((await vm.InstanceViewAsync()).Value.Statuses, s => s.Code == "PowerState/running");

        await vm.DeleteAsync(WaitUntil.Completed);

        Assert.Empty(await ToListAsync(group.GetManagedDisks().GetAllAsync()));
        await (await resources.GetAsync(nicId)).Value.DeleteAsync(WaitUntil.Completed);
        Assert.False((await resources.ExistsAsync(nicId)).Value);
        await group.DeleteAsync(WaitUntil.Completed);
    }

    private static async Task<List<T>> ToListAsync<T>(AsyncPageable<T> pages)
        where T : notnull
    {
        var list = new List<T>();
        await foreach (var item in pages)
        {
            list.Add(item);
        }

        return list;
    }
}
