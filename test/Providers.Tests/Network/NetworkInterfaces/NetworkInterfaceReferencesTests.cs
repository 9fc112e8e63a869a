using Holdfast.Providers.Framework;
using Holdfast.Providers.Network;
using Holdfast.Resources.Errors;
using Holdfast.State;
using Xunit;

namespace Holdfast.Providers.Tests.Network.NetworkInterfaces;

public sealed class NetworkInterfaceReferencesTests : IAsyncLifetime
{
    private const string Vm1 = "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1";
    private const string Vm2 = "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm2";
    private readonly NetworkWorld _world = new();

    public async Task InitializeAsync()
    {
        await _world.PutAsync(NetworkWorld.Id("virtualNetworks/v1"), """{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"10.0.0.0/24"}}]}""");
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "s"));
    }

    public Task DisposeAsync() => _world.CloseAsync().AsTask();

    [Fact]
    public async Task Attach_CommittedWithTheCallersTransaction_SetsVirtualMachineAndBlocksDelete()
    {
        var stored = await NicAsync();
        var change = NetworkInterfaceReferences.Attach(stored, Vm1, primary: true);

        Assert.True((await _world.Store.TxnAsync(new TxnRequest([change.Compare], [change.Op]), CancellationToken.None)).Succeeded);

        var attached = await NicAsync();
        Assert.Equal(Vm1, NetworkInterfaceReferences.AttachedVirtualMachine(attached));
        Assert.Equal(["10.0.0.4"], NetworkInterfaceReferences.PrivateIPAddresses(attached));
        var nic = (await _world.GetAsync(NetworkWorld.Nic("n1")))!;
        Assert.Matches("^00-0D-3A-[0-9A-F]{2}-[0-9A-F]{2}-[0-9A-F]{2}$", nic["properties"]!["macAddress"]!.GetValue<string>());
        Assert.True(nic["properties"]!["primary"]!.GetValue<bool>());
        var error = await Assert.ThrowsAsync<ApiException>(() => _world.DeleteAsync(NetworkWorld.Nic("n1")));
        Assert.Equal("NicInUse", error.Code);
        Assert.Contains(Vm1, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Attach_ToAnotherVm_IsRefusedWithNicInUse()
    {
        var change = NetworkInterfaceReferences.Attach(await NicAsync(), Vm1, primary: true);
        await _world.Store.TxnAsync(new TxnRequest([change.Compare], [change.Op]), CancellationToken.None);

        var attached = await NicAsync();

        var error = Assert.Throws<ApiException>(() => NetworkInterfaceReferences.Attach(attached, Vm2, primary: true));

        Assert.Equal("NicInUse", error.Code);
    }

    [Fact]
    public async Task Attach_StaleRead_FailsTheCallersCompare()
    {
        var stale = await NicAsync();
        var first = NetworkInterfaceReferences.Attach(stale, Vm1, primary: true);
        await _world.Store.TxnAsync(new TxnRequest([first.Compare], [first.Op]), CancellationToken.None);

        var second = NetworkInterfaceReferences.Attach(stale, Vm2, primary: true);

        Assert.False((await _world.Store.TxnAsync(new TxnRequest([second.Compare], [second.Op]), CancellationToken.None)).Succeeded);
        Assert.Equal(Vm1, NetworkInterfaceReferences.AttachedVirtualMachine(await NicAsync()));
    }

    [Fact]
    public async Task Detach_ThenDelete_ReleasesTheAddress()
    {
        var attach = NetworkInterfaceReferences.Attach(await NicAsync(), Vm1, primary: true);
        await _world.Store.TxnAsync(new TxnRequest([attach.Compare], [attach.Op]), CancellationToken.None);

        Assert.Null(NetworkInterfaceReferences.Detach(await NicAsync(), Vm2));
        var detach = NetworkInterfaceReferences.Detach(await NicAsync(), Vm1)!;
        Assert.True((await _world.Store.TxnAsync(new TxnRequest([detach.Compare], [detach.Op]), CancellationToken.None)).Succeeded);
        await _world.DeleteAsync(NetworkWorld.Nic("n1"));

        Assert.Null(await _world.GetAsync(NetworkWorld.Nic("n1")));
        Assert.Empty(await _world.AddressesAsync(NetworkWorld.Subnet("v1", "s")));
    }

    [Fact]
    public async Task Attach_NicBeingDeleted_IsRefused()
    {
        var stored = await NicAsync();
        var document = ResourceDocument.Parse(stored.Value);
        ResourceDocument.SetProvisioningState(document, ProvisioningStates.Deleting);
        await _world.Store.PutAsync(stored.Key, ResourceDocument.Serialize(document), stored.ModRevision, CancellationToken.None);

        var deleting = await NicAsync();

        var error = Assert.Throws<ApiException>(() => NetworkInterfaceReferences.Attach(deleting, Vm1, primary: true));

        Assert.Equal("InvalidResourceReference", error.Code);
    }

    private async Task<KeyValue> NicAsync() =>
        (await _world.Store.GetAsync(NetworkInterfaceReferences.Key(NetworkWorld.Nic("n1")), CancellationToken.None))!;
}
