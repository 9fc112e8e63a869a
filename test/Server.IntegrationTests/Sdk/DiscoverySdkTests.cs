using Azure.Core;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Sdk;

/// <summary>Provider and location discovery through the official SDK, as portal-like tools use it.</summary>
[Collection(ServerCollection.Name)]
public sealed class DiscoverySdkTests(ServerFixture fixture)
{
    [Fact]
    public async Task GetResourceProviders_ListsNetworkWithApiVersionsNewestFirst()
    {
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();
        var network = (await subscription.GetResourceProviderAsync("microsoft.network")).Value;

        Assert.Equal("Microsoft.Network", network.Data.Namespace);
        Assert.Equal("Registered", network.Data.RegistrationState);
        var vnets = Assert.Single(network.Data.ResourceTypes, t => t.ResourceType == "virtualNetworks");
        Assert.Contains("2018-11-01", vnets.ApiVersions); // Azure Stack Hub 2020-09-01-hybrid
        Assert.Equal(vnets.ApiVersions.OrderDescending(StringComparer.Ordinal), vnets.ApiVersions);

        var namespaces = new List<string>();
        await foreach (var provider in subscription.GetResourceProviders().GetAllAsync())
        {
            namespaces.Add(provider.Data.Namespace);
        }

        Assert.Contains("Microsoft.Resources", namespaces);
        Assert.Contains("Microsoft.Network", namespaces);
    }

    [Fact]
    public async Task GetLocations_ReturnsTheLocalRegion()
    {
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();
        var locations = new List<string>();
        await foreach (var location in subscription.GetLocationsAsync())
        {
            locations.Add(location.Name);
            Assert.Equal("Local", location.DisplayName);
        }

        Assert.Equal(["local"], locations);
    }

    [Fact]
    public async Task GetGenericResource_ForAResourceGroupId_UsesProviderMetadata()
    {
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();
        var name = ServerFixture.UniqueName("generic");
        await subscription.GetResourceGroups().CreateOrUpdateAsync(Azure.WaitUntil.Completed, name, new Azure.ResourceManager.Resources.ResourceGroupData(new AzureLocation("local")));

        var exists = await fixture.Arm.GetGenericResources().ExistsAsync(new ResourceIdentifier($"/subscriptions/{fixture.Credentials.SubscriptionId}/resourceGroups/{name}"));
        Assert.True(exists.Value);
    }
}
