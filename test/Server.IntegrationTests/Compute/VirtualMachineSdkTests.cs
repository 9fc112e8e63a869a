using Azure;
using Azure.Core;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Compute;

/// <summary>
/// A VM's lifecycle as an SDK user writes it, with the official Azure.ResourceManager.Compute 1.2.0 against the real
/// server process, whose VMs run on its simulated fleet (<c>--simulated-hosts</c>: simulated hardware behind the real
/// agent-side logic): sizes, resource SKUs, create (placed, Succeeded once running), instance view, usages, power
/// actions, redeploy, resize, delete.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class VirtualMachineSdkTests(ServerFixture fixture)
{
    private static readonly AzureLocation Local = new("local");

    [Fact]
    public async Task VirtualMachine_CreateInspectDelete_WithSdkDefaults()
    {
        await RunLifecycleAsync(fixture.Arm);
    }

    [Fact]
    public async Task VirtualMachine_CreateInspectDelete_WithAzureStackHybridProfile()
    {
        await RunLifecycleAsync(Clients.Arm(fixture.Credentials, options => options.SetApiVersionsFromProfile(AzureStackProfile.Profile20200901Hybrid)));
    }

    [Fact]
    public async Task VirtualMachineSizes_ListWhatTheSimulatedFleetHolds()
    {
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();

        var sizes = new List<VirtualMachineSize>();
        await foreach (var size in subscription.GetVirtualMachineSizesAsync(Local))
        {
            sizes.Add(size);
        }

        var d2s = Assert.Single(sizes, s => s.Name == "Standard_D2s_v3");
        Assert.Equal(2, d2s.NumberOfCores);
        Assert.Equal(8192, d2s.MemoryInMB);
        Assert.Contains(sizes, s => s.Name == "Standard_NC6"); // sim-0008 has GPUs
        Assert.DoesNotContain(sizes, s => s.Name == "Standard_D64s_v3");
    }

    [Fact]
    public async Task Create_OfASizeNoHostCanHold_ThrowsSkuNotAvailable()
    {
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();
        var group = await CreateGroupAsync(subscription);

        // Standard_NC24 needs 224 GiB; a simulated GPU host has 128 GiB.
        var unavailable = await Assert.ThrowsAsync<RequestFailedException>(() => group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "too-big", VmData("Standard_NC24")));

        Assert.Equal(409, unavailable.Status);
        Assert.Equal("SkuNotAvailable", unavailable.ErrorCode);
        await group.DeleteAsync(WaitUntil.Completed);
    }

    [Fact]
    public async Task ResourceSkus_ListEveryCatalogSize_RestrictingWhatTheFleetCannotHold()
    {
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();

        var skus = await ToListAsync(subscription.GetComputeResourceSkusAsync(filter: "location eq 'local'"));

        var d2s = Assert.Single(skus, s => s.Name == "Standard_D2s_v3");
        Assert.Equal("virtualMachines", d2s.ResourceType);
        Assert.Equal("Standard", d2s.Tier);
        Assert.Equal("standardDSv3Family", d2s.Family);
        Assert.Equal(Local, Assert.Single(d2s.Locations));
        Assert.Contains(d2s.Capabilities, c => c.Name == "vCPUs" && c.Value == "2");
        Assert.Contains(d2s.Capabilities, c => c.Name == "MemoryGB" && c.Value == "8");
        Assert.Empty(d2s.Restrictions);
        var tooBig = Assert.Single(skus, s => s.Name == "Standard_D64s_v3");
        var restriction = Assert.Single(tooBig.Restrictions);
        Assert.Equal(ComputeResourceSkuRestrictionsReasonCode.NotAvailableForSubscription, restriction.ReasonCode);
        Assert.Equal(ComputeResourceSkuRestrictionsType.Location, restriction.RestrictionsType);
        Assert.Empty(await ToListAsync(subscription.GetComputeResourceSkusAsync(filter: "location eq 'westus'")));
    }

    [Fact]
    public async Task VirtualMachine_RedeployAndResize_WithSdkDefaults()
    {
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();
        var group = await CreateGroupAsync(subscription);
        var vm = (await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "vm1", VmData("Standard_D2s_v3"))).Value;

        await vm.RedeployAsync(WaitUntil.Completed);

        vm = (await vm.GetAsync()).Value;
        Assert.Equal("Succeeded", vm.Data.ProvisioningState);
        Assert.Contains((await vm.InstanceViewAsync()).Value.Statuses, s => s.Code == "PowerState/running");

        var coresBefore = await CoresInUseAsync(subscription);
        vm = (await vm.UpdateAsync(WaitUntil.Completed, new VirtualMachinePatch { HardwareProfile = new VirtualMachineHardwareProfile { VmSize = VirtualMachineSizeType.StandardD4SV3 } })).Value;

        Assert.Equal(VirtualMachineSizeType.StandardD4SV3, vm.Data.HardwareProfile.VmSize);
        Assert.Equal("Succeeded", vm.Data.ProvisioningState);
        Assert.Contains((await vm.InstanceViewAsync()).Value.Statuses, s => s.Code == "PowerState/running");
        Assert.True(await CoresInUseAsync(subscription) >= coresBefore + 2);
        await group.DeleteAsync(WaitUntil.Completed);
    }

    private static async Task RunLifecycleAsync(ArmClient arm)
    {
        var subscription = await arm.GetDefaultSubscriptionAsync();
        var group = await CreateGroupAsync(subscription);
        var coresBefore = await CoresInUseAsync(subscription);

        var vm = (await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "vm1", VmData("Standard_D2s_v3"))).Value;

        Assert.Equal("Succeeded", vm.Data.ProvisioningState);
        Assert.Equal(VirtualMachineSizeType.StandardD2SV3, vm.Data.HardwareProfile.VmSize);
        Assert.Null(vm.Data.OSProfile.AdminPassword);
        Assert.NotNull(vm.Data.VmId);
        var view = (await vm.InstanceViewAsync()).Value;
        Assert.Contains(view.Statuses, s => s.Code == "PowerState/running");
        Assert.Contains(view.Statuses, s => s.Code == "ProvisioningState/succeeded");
        var expanded = (await group.GetVirtualMachines().GetAsync("vm1", InstanceViewType.InstanceView)).Value;
        Assert.Contains(expanded.Data.InstanceView.Statuses, s => s.Code == "PowerState/running");
        Assert.Contains(await ToListAsync(group.GetVirtualMachines().GetAllAsync()), v => v.Data.Name == "vm1");
        Assert.True(await CoresInUseAsync(subscription) >= coresBefore + 2);

        await vm.PowerOffAsync(WaitUntil.Completed);
        Assert.Contains((await vm.InstanceViewAsync()).Value.Statuses, s => s.Code == "PowerState/stopped");
        await vm.PowerOnAsync(WaitUntil.Completed);
        Assert.Contains((await vm.InstanceViewAsync()).Value.Statuses, s => s.Code == "PowerState/running");
        await vm.DeallocateAsync(WaitUntil.Completed);
        Assert.Contains((await vm.InstanceViewAsync()).Value.Statuses, s => s.Code == "PowerState/deallocated");
        await vm.PowerOnAsync(WaitUntil.Completed);
        await vm.RestartAsync(WaitUntil.Completed);
        Assert.Contains((await vm.InstanceViewAsync()).Value.Statuses, s => s.Code == "PowerState/running");

        await vm.DeleteAsync(WaitUntil.Completed);

        Assert.False((await group.GetVirtualMachines().ExistsAsync("vm1")).Value);
        await group.DeleteAsync(WaitUntil.Completed);
    }

    private static async Task<ResourceGroupResource> CreateGroupAsync(SubscriptionResource subscription) =>
        (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, ServerFixture.UniqueName("vm"), new ResourceGroupData(Local))).Value;

    private static VirtualMachineData VmData(string size) => new(Local)
    {
        HardwareProfile = new VirtualMachineHardwareProfile { VmSize = new VirtualMachineSizeType(size) },
        StorageProfile = new VirtualMachineStorageProfile
        {
            ImageReference = new ImageReference { Publisher = "Canonical", Offer = "0001-com-ubuntu-server-jammy", Sku = "22_04-lts-gen2", Version = "latest" },
            OSDisk = new VirtualMachineOSDisk(DiskCreateOptionType.FromImage),
        },
        OSProfile = new VirtualMachineOSProfile { ComputerName = "vm1", AdminUsername = "azureuser", AdminPassword = "Sdk-Passw0rd!" },
    };

    private static async Task<int> CoresInUseAsync(SubscriptionResource subscription)
    {
        await foreach (var usage in subscription.GetUsagesAsync(Local))
        {
            if (usage.Name.Value == "cores")
            {
                return usage.CurrentValue;
            }
        }

        throw new InvalidOperationException("usages has no 'cores' entry");
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
