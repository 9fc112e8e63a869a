using Holdfast.Providers.Framework;
using Holdfast.Providers.Network;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Xunit;

namespace Holdfast.Providers.Tests.Network.SecurityGroups;

/// <summary>A security group named by a subnet or a NIC is in use and cannot be deleted, as in Azure.</summary>
public sealed class NetworkSecurityGroupReferencesTests : IAsyncLifetime
{
    private static readonly ResourceId Nsg = NetworkWorld.Id("networkSecurityGroups/nsg1");
    private static readonly ResourceId Vnet = NetworkWorld.Id("virtualNetworks/v1");
    private readonly NetworkWorld _world = new();

    public async Task InitializeAsync()
    {
        await _world.PutAsync(Nsg, "{}");
        await _world.PutAsync(Vnet, """{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"a","properties":{"addressPrefix":"10.0.0.0/24"}}]}""");
    }

    public Task DisposeAsync() => _world.CloseAsync().AsTask();

    [Fact]
    public async Task Delete_NamedBySubnet_IsRefusedUntilTheSubnetDropsIt()
    {
        await _world.PutAsync(NetworkWorld.Subnet("v1", "a"), SubnetWithNsg());

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.DeleteAsync(Nsg));
        Assert.Equal("InUseNetworkSecurityGroupCannotBeDeleted", error.Code);
        Assert.Contains(NetworkWorld.Subnet("v1", "a").ToString(), error.Message, StringComparison.Ordinal);

        await _world.PutAsync(NetworkWorld.Subnet("v1", "a"), """{"addressPrefix":"10.0.0.0/24"}""");
        await _world.DeleteAsync(Nsg);
        Assert.Null(await _world.GetAsync(Nsg));
    }

    [Fact]
    public async Task Delete_NamedByVnetInlineSubnet_IsRefusedUntilTheVnetIsGone()
    {
        await _world.PutAsync(Vnet, """{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"a","properties":{"addressPrefix":"10.0.0.0/24","networkSecurityGroup":{"id":"NSG"}}}]}""".Replace("NSG", Nsg.ToString(), StringComparison.Ordinal));

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.DeleteAsync(Nsg));
        Assert.Equal("InUseNetworkSecurityGroupCannotBeDeleted", error.Code);

        await _world.DeleteAsync(Vnet);
        await _world.ReconcileAsync(NetworkWorld.Subnet("v1", "a"));
        await _world.DeleteAsync(Nsg);
        Assert.Null(await _world.GetAsync(Nsg));
    }

    [Fact]
    public async Task Delete_NamedByNic_IsRefusedUntilTheNicIsDeleted()
    {
        var nic = NetworkWorld.Nic("n1");
        await _world.PutAsync(nic, NetworkWorld.NicBody("v1", "a")[..^1] + ""","networkSecurityGroup":{"id":"NSG"}}""".Replace("NSG", Nsg.ToString(), StringComparison.Ordinal));

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.DeleteAsync(Nsg));
        Assert.Equal("InUseNetworkSecurityGroupCannotBeDeleted", error.Code);

        await _world.DeleteAsync(nic);
        await _world.DeleteAsync(Nsg);
        Assert.Null(await _world.GetAsync(Nsg));
    }

    [Fact]
    public async Task Deprovision_LiveReferrerNamedBeforeTheMark_FailsTheDelete()
    {
        await _world.PutAsync(NetworkWorld.Subnet("v1", "a"), SubnetWithNsg());
        var stored = (await _world.Store.GetAsync(ResourceKeys.Resource(Nsg), CancellationToken.None))!;
        var document = ResourceDocument.Parse(stored.Value);
        ResourceDocument.SetProvisioningState(document, ProvisioningStates.Deleting);
        await _world.Store.PutAsync(stored.Key, ResourceDocument.Serialize(document), stored.ModRevision, CancellationToken.None);

        await _world.ReconcileAsync(Nsg);

        Assert.Equal(ProvisioningStates.Failed, NetworkWorld.State(await _world.GetAsync(Nsg)));
    }

    [Fact]
    public async Task SubnetPut_NamingADeletedGroup_IsRefused()
    {
        await _world.DeleteAsync(Nsg);

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.TryPutAsync(NetworkWorld.Subnet("v1", "a"), SubnetWithNsg()));

        Assert.Equal("InvalidResourceReference", error.Code);
        Assert.Empty((await _world.Store.RangeAsync(new Holdfast.State.RangeRequest(NetworkKeys.ReferencesTo(Nsg)), CancellationToken.None)).Items);
    }

    private static string SubnetWithNsg() => """{"addressPrefix":"10.0.0.0/24","networkSecurityGroup":{"id":"NSG"}}""".Replace("NSG", Nsg.ToString(), StringComparison.Ordinal);
}
