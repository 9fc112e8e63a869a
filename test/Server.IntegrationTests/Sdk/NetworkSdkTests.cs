using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.ResourceManager;
using Azure.ResourceManager.Resources;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Sdk;

/// <summary>
/// Networks as SDK samples build them before a VM, through the official SDK's generic resources against the real
/// server: a virtual network with subnets, a subnet added as a child, network interfaces that get private addresses.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class NetworkSdkTests(ServerFixture fixture)
{
    private static readonly AzureLocation Local = new("local");

    [Fact]
    public async Task GenericResources_VnetSubnetsAndNics_BehaveAsAzure()
    {
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();
        var name = ServerFixture.UniqueName("sdknet");
        var group = (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, name, new ResourceGroupData(Local))).Value;
        var resources = fixture.Arm.GetGenericResources();
        var vnetId = new ResourceIdentifier($"{group.Id}/providers/Microsoft.Network/virtualNetworks/vnet1");
        await resources.CreateOrUpdateAsync(WaitUntil.Completed, vnetId, new GenericResourceData(Local)
        {
            Properties = BinaryData.FromString("""{"addressSpace":{"addressPrefixes":["10.40.0.0/16"]},"subnets":[{"name":"default","properties":{"addressPrefix":"10.40.0.0/24"}}]}"""),
        });

        var appsId = new ResourceIdentifier($"{vnetId}/subnets/apps");
        var apps = (await resources.CreateOrUpdateAsync(WaitUntil.Completed, appsId, new GenericResourceData(Local) { Properties = BinaryData.FromString("""{"addressPrefix":"10.40.1.0/24"}""") })).Value;
        Assert.Equal("Succeeded", Property(apps.Data, "provisioningState"));
        var vnet = (await resources.GetAsync(vnetId)).Value;
        using (var properties = JsonDocument.Parse(vnet.Data.Properties.ToString()))
        {
            Assert.Equal(["default", "apps"], properties.RootElement.GetProperty("subnets").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        }

        var nic = (await resources.CreateOrUpdateAsync(WaitUntil.Completed, NicId(group, "nic1"), NicData(appsId))).Value;
        var fixedNic = (await resources.CreateOrUpdateAsync(WaitUntil.Completed, NicId(group, "nic2"), NicData(appsId, "10.40.1.10"))).Value;
        Assert.Equal("10.40.1.4", PrivateAddress(nic.Data));
        Assert.Equal("10.40.1.10", PrivateAddress(fixedNic.Data));

        var duplicate = await Assert.ThrowsAsync<RequestFailedException>(() => resources.CreateOrUpdateAsync(WaitUntil.Completed, NicId(group, "nic3"), NicData(appsId, "10.40.1.10")));
        Assert.Equal(400, duplicate.Status);
        Assert.Equal("PrivateIPAddressIsAllocated", duplicate.ErrorCode);
        var inUse = await Assert.ThrowsAsync<RequestFailedException>(() => apps.DeleteAsync(WaitUntil.Completed));
        Assert.Equal("InUseSubnetCannotBeDeleted", inUse.ErrorCode);

        await nic.DeleteAsync(WaitUntil.Completed);
        await fixedNic.DeleteAsync(WaitUntil.Completed);
        await apps.DeleteAsync(WaitUntil.Completed);
        Assert.False((await resources.ExistsAsync(appsId)).Value);
        var again = (await resources.CreateOrUpdateAsync(WaitUntil.Completed, NicId(group, "nic4"), NicData(new ResourceIdentifier($"{vnetId}/subnets/default")))).Value;
        Assert.Equal("10.40.0.4", PrivateAddress(again.Data));

        await group.DeleteAsync(WaitUntil.Completed);
        Assert.False((await resources.ExistsAsync(NicId(group, "nic4"))).Value);
    }

    [Fact]
    public async Task GenericResources_WithAzureStackHybridProfile_UseItsNetworkApiVersion()
    {
        var sent = new RequestRecorder();
        var arm = Clients.Arm(fixture.Credentials, options =>
        {
            options.SetApiVersionsFromProfile(AzureStackProfile.Profile20200901Hybrid);
            options.AddPolicy(sent, HttpPipelinePosition.PerCall);
        });
        var subscription = await arm.GetDefaultSubscriptionAsync();
        var group = (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, ServerFixture.UniqueName("sdknethybrid"), new ResourceGroupData(Local))).Value;
        var resources = arm.GetGenericResources();
        var vnetId = new ResourceIdentifier($"{group.Id}/providers/Microsoft.Network/virtualNetworks/vnet1");
        await resources.CreateOrUpdateAsync(WaitUntil.Completed, vnetId, new GenericResourceData(Local)
        {
            Properties = BinaryData.FromString("""{"addressSpace":{"addressPrefixes":["10.41.0.0/16"]},"subnets":[{"name":"default","properties":{"addressPrefix":"10.41.0.0/24"}}]}"""),
        });

        var nic = (await resources.CreateOrUpdateAsync(WaitUntil.Completed, NicId(group, "nic1"), NicData(new ResourceIdentifier($"{vnetId}/subnets/default")))).Value;

        Assert.Equal("10.41.0.4", PrivateAddress(nic.Data));
        Assert.Contains(sent.Uris, uri => uri.Contains("/networkInterfaces/nic1", StringComparison.OrdinalIgnoreCase) && uri.Contains("api-version=2018-11-01", StringComparison.Ordinal));
        await group.DeleteAsync(WaitUntil.Completed);
    }

    private static ResourceIdentifier NicId(ResourceGroupResource group, string name) => new($"{group.Id}/providers/Microsoft.Network/networkInterfaces/{name}");

    private static GenericResourceData NicData(ResourceIdentifier subnetId, string? staticAddress = null)
    {
        var configuration = new Dictionary<string, object> { ["subnet"] = new { id = subnetId.ToString() } };
        if (staticAddress is not null)
        {
            configuration["privateIPAllocationMethod"] = "Static";
            configuration["privateIPAddress"] = staticAddress;
        }

        return new GenericResourceData(Local)
        {
            Properties = BinaryData.FromObjectAsJson(new { ipConfigurations = new[] { new { name = "ipconfig1", properties = configuration } } }),
        };
    }

    private static string? Property(GenericResourceData data, string name)
    {
        using var properties = JsonDocument.Parse(data.Properties.ToString());
        return properties.RootElement.GetProperty(name).GetString();
    }

    private static string? PrivateAddress(GenericResourceData data)
    {
        using var properties = JsonDocument.Parse(data.Properties.ToString());
        return properties.RootElement.GetProperty("ipConfigurations")[0].GetProperty("properties").GetProperty("privateIPAddress").GetString();
    }
}
