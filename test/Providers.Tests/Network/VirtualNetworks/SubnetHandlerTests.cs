using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Xunit;

namespace Holdfast.Providers.Tests.Network.VirtualNetworks;

/// <summary>Subnets as child resources and as the VNet's inline list, kept equal by both types' admission.</summary>
public sealed class SubnetHandlerTests : IAsyncLifetime
{
    private static readonly Holdfast.Resources.Ids.ResourceId Vnet = NetworkWorld.Id("virtualNetworks/v1");
    private readonly NetworkWorld _world = new();

    public Task InitializeAsync() => _world.PutAsync(Vnet, """{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"a","properties":{"addressPrefix":"10.0.0.0/24"}},{"name":"b","properties":{"addressPrefix":"10.0.1.0/24"}}]}""");

    public Task DisposeAsync() => _world.CloseAsync().AsTask();

    [Fact]
    public async Task VnetPut_InlineSubnets_CreatesChildResources()
    {
        var a = await _world.GetAsync(NetworkWorld.Subnet("v1", "a"));

        Assert.NotNull(a);
        Assert.Equal(NetworkWorld.Subnet("v1", "a").ToString(), a["id"]!.GetValue<string>());
        Assert.Equal("Microsoft.Network/virtualNetworks/subnets", a["type"]!.GetValue<string>());
        Assert.Equal("10.0.0.0/24", a["properties"]!["addressPrefix"]!.GetValue<string>());
        Assert.Equal(ProvisioningStates.Succeeded, NetworkWorld.State(a));
        Assert.NotNull(await _world.GetAsync(NetworkWorld.Subnet("v1", "b")));
    }

    [Fact]
    public async Task SubnetPut_AppearsInTheVnetsInlineSubnets()
    {
        await _world.PutAsync(NetworkWorld.Subnet("v1", "c"), """{"addressPrefix":"10.0.2.0/24"}""");

        var names = InlineNames((await _world.GetAsync(Vnet))!);
        Assert.Equal(["a", "b", "c"], names);
        var inline = InlineSubnet((await _world.GetAsync(Vnet))!, "c");
        Assert.Equal(NetworkWorld.Subnet("v1", "c").ToString(), inline["id"]!.GetValue<string>());
        Assert.Equal("10.0.2.0/24", inline["properties"]!["addressPrefix"]!.GetValue<string>());
    }

    [Fact]
    public async Task SubnetPut_Update_ReplacesTheInlineEntry()
    {
        await _world.PutAsync(NetworkWorld.Subnet("v1", "b"), """{"addressPrefix":"10.0.3.0/24"}""");

        Assert.Equal("10.0.3.0/24", InlineSubnet((await _world.GetAsync(Vnet))!, "b")["properties"]!["addressPrefix"]!.GetValue<string>());
        Assert.Equal(["a", "b"], InlineNames((await _world.GetAsync(Vnet))!));
    }

    [Theory]
    [InlineData("10.1.0.0/24", "NetcfgSubnetRangeOutsideVnet")]
    [InlineData("10.0.0.128/25", "NetcfgSubnetRangesOverlap")]
    [InlineData("10.0.0.0/16", "NetcfgSubnetRangesOverlap")]
    public async Task SubnetPut_BadRangeForTheVnet_IsRefused(string prefix, string code)
    {
        var error = await Assert.ThrowsAsync<ApiException>(() => _world.TryPutAsync(NetworkWorld.Subnet("v1", "c"), $$$"""{"addressPrefix":"{{{prefix}}}"}"""));

        Assert.Contains(code, new[] { error.Code }.Concat(error.Details.Select(d => d.Code)));
        Assert.Null(await _world.GetAsync(NetworkWorld.Subnet("v1", "c")));
    }

    [Theory]
    [InlineData("""{"addressPrefix":"10.0.5.0/30"}""", "NetcfgInvalidSubnet")]
    [InlineData("""{"addressPrefix":"10.0.5.1/24"}""", "InvalidCIDRNotation")]
    [InlineData("""{"addressPrefix":"10.0.5.0/24/1"}""", "InvalidAddressPrefixFormat")]
    [InlineData("""{}""", "InvalidAddressPrefixFormat")]
    [InlineData("""{"addressPrefix":"10.0.5.0/24","networkSecurityGroup":{"id":"nsg"}}""", "LinkedInvalidPropertyId")]
    public void Validate_BadSubnet_ReportsAzureCode(string properties, string code)
    {
        var context = new ResourceValidationContext(NetworkWorld.Subnet("v1", "c"), JsonNode.Parse(properties)!.AsObject(), null);

        _world.Handler(NetworkWorld.Subnet("v1", "c")).Validate(context);

        Assert.Contains(context.Errors, e => e.Code == code);
    }

    [Fact]
    public async Task SubnetPut_MissingSecurityGroup_InvalidResourceReference()
    {
        var body = $$$"""{"addressPrefix":"10.0.2.0/24","networkSecurityGroup":{"id":"{{{NetworkWorld.Id("networkSecurityGroups/none")}}}"}}""";

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.TryPutAsync(NetworkWorld.Subnet("v1", "c"), body));

        Assert.Equal("InvalidResourceReference", error.Code);
    }

    [Fact]
    public async Task SubnetPut_ExistingSecurityGroup_IsAttachedInBothViews()
    {
        var nsg = NetworkWorld.Id("networkSecurityGroups/nsg1");
        await _world.PutAsync(nsg, "{}");

        await _world.PutAsync(NetworkWorld.Subnet("v1", "c"), $$$"""{"addressPrefix":"10.0.2.0/24","networkSecurityGroup":{"id":"{{{nsg}}}"}}""");

        Assert.Equal(nsg.ToString(), (await _world.GetAsync(NetworkWorld.Subnet("v1", "c")))!["properties"]!["networkSecurityGroup"]!["id"]!.GetValue<string>());
        Assert.Equal(nsg.ToString(), InlineSubnet((await _world.GetAsync(Vnet))!, "c")["properties"]!["networkSecurityGroup"]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task VnetPut_WithoutASubnet_RemovesTheChild()
    {
        await _world.PutAsync(Vnet, """{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"a","properties":{"addressPrefix":"10.0.0.0/24"}}]}""");
        await _world.ReconcileAsync(NetworkWorld.Subnet("v1", "b"));

        Assert.Null(await _world.GetAsync(NetworkWorld.Subnet("v1", "b")));
        Assert.Equal(["a"], InlineNames((await _world.GetAsync(Vnet))!));
    }

    [Fact]
    public async Task VnetPut_ChangedInlineSubnet_UpdatesTheChild()
    {
        await _world.PutAsync(Vnet, """{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"a","properties":{"addressPrefix":"10.0.8.0/24"}},{"name":"b","properties":{"addressPrefix":"10.0.1.0/24"}}]}""");

        Assert.Equal("10.0.8.0/24", (await _world.GetAsync(NetworkWorld.Subnet("v1", "a")))!["properties"]!["addressPrefix"]!.GetValue<string>());
    }

    [Fact]
    public async Task VnetPut_RemovingASubnetInUse_InUseSubnetCannotBeDeleted()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "b"));

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.TryPutAsync(Vnet, """{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"a","properties":{"addressPrefix":"10.0.0.0/24"}}]}"""));

        Assert.Equal("InUseSubnetCannotBeDeleted", error.Code);
        Assert.Contains(NetworkWorld.Nic("n1") + "/ipConfigurations/ipconfig1", error.Message, StringComparison.Ordinal);
        Assert.Equal(["a", "b"], InlineNames((await _world.GetAsync(Vnet))!));
    }

    [Fact]
    public async Task VnetPut_MovingASubnetAwayFromItsAddresses_IsRefused()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "b"));

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.TryPutAsync(Vnet, """{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"a","properties":{"addressPrefix":"10.0.0.0/24"}},{"name":"b","properties":{"addressPrefix":"10.0.9.0/24"}}]}"""));

        Assert.Equal("InUseSubnetCannotBeUpdated", error.Code);
    }

    [Fact]
    public async Task SubnetDelete_InUse_InUseSubnetCannotBeDeleted_ThenAfterTheNicGoes_Succeeds()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "b"));

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.DeleteAsync(NetworkWorld.Subnet("v1", "b")));
        Assert.Equal("InUseSubnetCannotBeDeleted", error.Code);

        await _world.DeleteAsync(NetworkWorld.Nic("n1"));
        await _world.DeleteAsync(NetworkWorld.Subnet("v1", "b"));

        Assert.Null(await _world.GetAsync(NetworkWorld.Subnet("v1", "b")));
        Assert.Equal(["a"], InlineNames((await _world.GetAsync(Vnet))!));
    }

    [Fact]
    public async Task SubnetDeprovision_AddressTakenByALiveNic_FailsInUse()
    {
        // The race the request-time check cannot see: a NIC committed between that check and the subnet's mark.
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "b"));
        await MarkDeletingAsync(NetworkWorld.Subnet("v1", "b"));

        await _world.ReconcileAsync(NetworkWorld.Subnet("v1", "b"));

        Assert.Equal(ProvisioningStates.Failed, NetworkWorld.State(await _world.GetAsync(NetworkWorld.Subnet("v1", "b"))));
        Assert.Single(await _world.AddressesAsync(NetworkWorld.Subnet("v1", "b")));
    }

    [Fact]
    public async Task SubnetDeprovision_NicBeingDeleted_WaitsForIt()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "b"));
        await MarkDeletingAsync(NetworkWorld.Subnet("v1", "b"));
        await MarkDeletingAsync(NetworkWorld.Nic("n1"));

        var requeue = await _world.ReconcileAsync(NetworkWorld.Subnet("v1", "b"));
        Assert.NotNull(requeue);
        Assert.Equal(ProvisioningStates.Deleting, NetworkWorld.State(await _world.GetAsync(NetworkWorld.Subnet("v1", "b"))));

        await _world.ReconcileAsync(NetworkWorld.Nic("n1"));
        await _world.ReconcileAsync(NetworkWorld.Subnet("v1", "b"));

        Assert.Null(await _world.GetAsync(NetworkWorld.Subnet("v1", "b")));
        Assert.Empty(await _world.AddressesAsync(NetworkWorld.Subnet("v1", "b")));
    }

    [Fact]
    public async Task VnetDelete_MarksItsSubnetsAndTheyGo()
    {
        await _world.DeleteAsync(Vnet);
        await _world.ReconcileAllAsync(NetworkKeysFor());

        Assert.Null(await _world.GetAsync(Vnet));
        Assert.Null(await _world.GetAsync(NetworkWorld.Subnet("v1", "a")));
        Assert.Null(await _world.GetAsync(NetworkWorld.Subnet("v1", "b")));
    }

    [Fact]
    public async Task VnetDelete_SubnetInUse_IsRefused()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "a"));

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.DeleteAsync(Vnet));

        Assert.Equal("InUseSubnetCannotBeDeleted", error.Code);
        Assert.Equal(ProvisioningStates.Succeeded, NetworkWorld.State(await _world.GetAsync(Vnet)));
    }

    [Fact]
    public async Task SubnetPut_VnetBeingDeleted_IsRefused()
    {
        await MarkDeletingAsync(Vnet);

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.TryPutAsync(NetworkWorld.Subnet("v1", "c"), """{"addressPrefix":"10.0.2.0/24"}"""));

        Assert.Equal("AnotherOperationInProgress", error.Code);
    }

    private static string NetworkKeysFor() => Holdfast.Providers.Framework.ResourceKeys.ResourcesOfGroup("sub1", "rg1");

    private async Task MarkDeletingAsync(Holdfast.Resources.Ids.ResourceId id)
    {
        var key = ResourceKeys.Resource(id);
        var stored = (await _world.Store.GetAsync(key, CancellationToken.None))!;
        var document = ResourceDocument.Parse(stored.Value);
        ResourceDocument.SetProvisioningState(document, ProvisioningStates.Deleting);
        Assert.True((await _world.Store.PutAsync(key, ResourceDocument.Serialize(document), stored.ModRevision, CancellationToken.None)).Succeeded);
    }

    private static List<string> InlineNames(JsonObject vnet) =>
        vnet["properties"]!["subnets"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()).ToList();

    private static JsonObject InlineSubnet(JsonObject vnet, string name) =>
        vnet["properties"]!["subnets"]!.AsArray().Single(s => s!["name"]!.GetValue<string>() == name)!.AsObject();
}
