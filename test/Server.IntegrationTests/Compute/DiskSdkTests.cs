using Azure;
using Azure.Core;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Compute;

/// <summary>
/// Availability sets, managed disks and a VM with a data disk as an SDK user writes them, with the official
/// Azure.ResourceManager.Compute 1.2.0 against the real server process (VMs on its simulated fleet).
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class DiskSdkTests(ServerFixture fixture)
{
    private static readonly AzureLocation Local = new("local");

    [Fact]
    public async Task VirtualMachine_InASetWithADataDisk_WithSdkDefaults()
    {
        await RunAsync(fixture.Arm);
    }

    [Fact]
    public async Task VirtualMachine_InASetWithADataDisk_WithAzureStackHybridProfile()
    {
        await RunAsync(Clients.Arm(fixture.Credentials, options => options.SetApiVersionsFromProfile(AzureStackProfile.Profile20200901Hybrid)));
    }

    private static async Task RunAsync(ArmClient arm)
    {
        var subscription = await arm.GetDefaultSubscriptionAsync();
        var group = (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, ServerFixture.UniqueName("disk"), new ResourceGroupData(Local))).Value;

        var set = (await group.GetAvailabilitySets().CreateOrUpdateAsync(WaitUntil.Completed, "as1", new AvailabilitySetData(Local)
        {
            PlatformFaultDomainCount = 2,
            PlatformUpdateDomainCount = 5,
            Sku = new ComputeSku { Name = "Aligned" },
        })).Value;
        Assert.Equal(2, set.Data.PlatformFaultDomainCount);

        var disk = (await group.GetManagedDisks().CreateOrUpdateAsync(WaitUntil.Completed, "data1", new ManagedDiskData(Local)
        {
            CreationData = new DiskCreationData(DiskCreateOption.Empty),
            DiskSizeGB = 32,
            Sku = new DiskSku { Name = DiskStorageAccountType.PremiumLrs },
        })).Value;
        Assert.Equal(DiskState.Unattached, disk.Data.DiskState);

        var data = new VirtualMachineData(Local)
        {
            HardwareProfile = new VirtualMachineHardwareProfile { VmSize = VirtualMachineSizeType.StandardB1S },
            AvailabilitySetId = set.Id,
            StorageProfile = new VirtualMachineStorageProfile
            {
                ImageReference = new ImageReference { Publisher = "Canonical", Offer = "0001-com-ubuntu-server-jammy", Sku = "22_04-lts-gen2", Version = "latest" },
                OSDisk = new VirtualMachineOSDisk(DiskCreateOptionType.FromImage),
            },
            OSProfile = new VirtualMachineOSProfile { ComputerName = "vm1", AdminUsername = "azureuser", AdminPassword = "Sdk-Passw0rd!" },
        };
        data.StorageProfile.DataDisks.Add(new VirtualMachineDataDisk(0, DiskCreateOptionType.Attach) { ManagedDisk = new VirtualMachineManagedDisk { Id = disk.Id } });
        var vm = (await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "vm1", data)).Value;

        Assert.Equal("Succeeded", vm.Data.ProvisioningState);
        Assert.Equal(disk.Id, Assert.Single(vm.Data.StorageProfile.DataDisks).ManagedDisk.Id);
        Assert.NotNull(vm.Data.StorageProfile.OSDisk.ManagedDisk.Id);
        Assert.Equal(SupportedOperatingSystemType.Linux, vm.Data.StorageProfile.OSDisk.OSType);
        var attached = (await disk.GetAsync()).Value;
        Assert.Equal(DiskState.Attached, attached.Data.DiskState);
        Assert.Equal(vm.Id.ToString(), attached.Data.ManagedBy?.ToString(), ignoreCase: true);
        Assert.Contains((await set.GetAsync()).Value.Data.VirtualMachines, r => string.Equals(r.Id.ToString(), vm.Id.ToString(), StringComparison.OrdinalIgnoreCase));

        var refused = await Assert.ThrowsAsync<RequestFailedException>(() => attached.DeleteAsync(WaitUntil.Completed));
        Assert.Equal(409, refused.Status);
        Assert.Equal("OperationNotAllowed", refused.ErrorCode);

        // Detach: the VM updated without its data disk.
        var update = vm.Data;
        update.StorageProfile.DataDisks.Clear();
        vm = (await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "vm1", update)).Value;
        Assert.Empty(vm.Data.StorageProfile.DataDisks);
        Assert.Equal(DiskState.Unattached, (await disk.GetAsync()).Value.Data.DiskState);

        var osDiskName = vm.Data.StorageProfile.OSDisk.Name;
        await vm.DeleteAsync(WaitUntil.Completed);

        // The OS disk's deleteOption defaults to Detach: it stays, unattached.
        var osDisk = (await group.GetManagedDisks().GetAsync(osDiskName)).Value;
        Assert.Equal(DiskState.Unattached, osDisk.Data.DiskState);
        await disk.DeleteAsync(WaitUntil.Completed);
        Assert.False((await group.GetManagedDisks().ExistsAsync("data1")).Value);
        await group.DeleteAsync(WaitUntil.Completed);
    }
}
