using Azure;
using Azure.Core;
using Azure.ResourceManager;
using Azure.ResourceManager.Resources;
using Azure.ResourceManager.Resources.Models;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Sdk;

/// <summary>The official Azure SDK (Azure.ResourceManager 1.7.0, Azure.Identity 1.21.0), unchanged, against a real server.</summary>
[Collection(ServerCollection.Name)]
public sealed class ResourceGroupSdkTests(ServerFixture fixture)
{
    private static readonly AzureLocation Local = new("local");

    [Fact]
    public async Task GetDefaultSubscription_WithClientSecretCredential_ReturnsBootstrapSubscription()
    {
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();

        Assert.Equal(fixture.Credentials.SubscriptionId, subscription.Data.SubscriptionId);
        Assert.Equal(fixture.Credentials.TenantId, subscription.Data.TenantId?.ToString());
        Assert.Equal(SubscriptionState.Enabled, subscription.Data.State);
    }

    [Fact]
    public async Task GetSubscriptions_ListsTheDefaultSubscription()
    {
        var ids = new List<string>();
        await foreach (var subscription in fixture.Arm.GetSubscriptions().GetAllAsync())
        {
            ids.Add(subscription.Data.SubscriptionId);
        }

        Assert.Contains(fixture.Credentials.SubscriptionId, ids);
    }

    [Fact]
    public async Task ResourceGroup_CreateGetExistsUpdateDelete_Lifecycle()
    {
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();
        var groups = subscription.GetResourceGroups();
        var name = ServerFixture.UniqueName("Lifecycle");
        var data = new ResourceGroupData(Local);
        data.Tags["env"] = "test";

        var created = await groups.CreateOrUpdateAsync(WaitUntil.Completed, name, data);
        Assert.Equal(name, created.Value.Data.Name);
        Assert.Equal("test", created.Value.Data.Tags["env"]);
        Assert.Equal("Succeeded", created.Value.Data.ResourceGroupProvisioningState);
        Assert.Equal($"/subscriptions/{fixture.Credentials.SubscriptionId}/resourceGroups/{name}", created.Value.Id.ToString());

        var fetched = await groups.GetAsync(name.ToUpperInvariant());
        Assert.Equal(name, fetched.Value.Data.Name); // case-insensitive lookup, casing preserved
        Assert.True((await groups.ExistsAsync(name)).Value);
        Assert.False((await groups.ExistsAsync(name + "-missing")).Value);

        var updated = await fetched.Value.UpdateAsync(new ResourceGroupPatch { Tags = { ["env"] = "prod", ["owner"] = "ops" } });
        Assert.Equal("prod", updated.Value.Data.Tags["env"]);
        Assert.Equal("ops", updated.Value.Data.Tags["owner"]);

        var tagged = await updated.Value.AddTagAsync("cost-center", "42");
        Assert.Equal("42", tagged.Value.Data.Tags["cost-center"]);
        Assert.Equal(3, tagged.Value.Data.Tags.Count);

        await tagged.Value.DeleteAsync(WaitUntil.Completed);
        Assert.False((await groups.ExistsAsync(name)).Value);
    }

    [Fact]
    public async Task ResourceGroup_PutTwice_IsIdempotentAndKeepsOriginalCasing()
    {
        var groups = (await fixture.Arm.GetDefaultSubscriptionAsync()).GetResourceGroups();
        var name = ServerFixture.UniqueName("Idem");

        await groups.CreateOrUpdateAsync(WaitUntil.Completed, name, new ResourceGroupData(Local));
        var again = await groups.CreateOrUpdateAsync(WaitUntil.Completed, name.ToLowerInvariant(), new ResourceGroupData(Local));

        Assert.Equal(name, again.Value.Data.Name);
        Assert.Equal(200, again.GetRawResponse().Status);
    }

    [Fact]
    public async Task ResourceGroups_GetAllWithFilterAndTop_FollowsNextLinkAcrossPages()
    {
        var groups = (await fixture.Arm.GetDefaultSubscriptionAsync()).GetResourceGroups();
        var marker = Guid.NewGuid().ToString("N")[..8];
        var names = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var data = new ResourceGroupData(Local);
            data.Tags["batch"] = marker;
            var name = $"page-{marker}-{i}";
            names.Add(name);
            await groups.CreateOrUpdateAsync(WaitUntil.Completed, name, data);
        }

        var listed = new List<string>();
        await foreach (var page in groups.GetAllAsync($"tagName eq 'batch' and tagValue eq '{marker}'", top: 2).AsPages())
        {
            Assert.True(page.Values.Count <= 2);
            listed.AddRange(page.Values.Select(g => g.Data.Name));
        }

        Assert.Equal(names.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ResourceGroup_WithAzureStackHybridProfile_Works()
    {
        var sent = new RequestRecorder();
        var arm = Clients.Arm(fixture.Credentials, options =>
        {
            options.SetApiVersionsFromProfile(AzureStackProfile.Profile20200901Hybrid);
            options.AddPolicy(sent, HttpPipelinePosition.PerCall);
        });
        var groups = (await arm.GetDefaultSubscriptionAsync()).GetResourceGroups();
        var name = ServerFixture.UniqueName("hybrid");

        var created = await groups.CreateOrUpdateAsync(WaitUntil.Completed, name, new ResourceGroupData(Local));
        Assert.Contains(sent.Uris, uri => uri.Contains("/resourcegroups/" + name, StringComparison.OrdinalIgnoreCase) && uri.Contains("api-version=2019-10-01", StringComparison.Ordinal));
        Assert.True((await groups.ExistsAsync(name)).Value);
        await created.Value.DeleteAsync(WaitUntil.Completed);
        Assert.False((await groups.ExistsAsync(name)).Value);
    }

    [Fact]
    public async Task GenericResource_VirtualNetworkCreatedInGroup_IsListedAndDeletedWithTheGroup()
    {
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();
        var name = ServerFixture.UniqueName("cascade");
        var group = (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, name, new ResourceGroupData(Local))).Value;
        var vnetId = new ResourceIdentifier($"{group.Id}/providers/Microsoft.Network/virtualNetworks/vnet1");
        var data = new GenericResourceData(Local)
        {
            Properties = BinaryData.FromString("""{"addressSpace":{"addressPrefixes":["10.1.0.0/16"]},"subnets":[{"name":"default","properties":{"addressPrefix":"10.1.0.0/24"}}]}"""),
        };
        data.Tags["tier"] = "web";

        var vnet = (await fixture.Arm.GetGenericResources().CreateOrUpdateAsync(WaitUntil.Completed, vnetId, data)).Value;
        using (var properties = System.Text.Json.JsonDocument.Parse(vnet.Data.Properties.ToString()))
        {
            Assert.Equal("Succeeded", properties.RootElement.GetProperty("provisioningState").GetString());
            Assert.Equal("10.1.0.0/24", properties.RootElement.GetProperty("subnets")[0].GetProperty("properties").GetProperty("addressPrefix").GetString());
        }


        var listed = new List<string>();
        await foreach (var resource in group.GetGenericResourcesAsync())
        {
            listed.Add(resource.Id.ToString());
        }

        Assert.Equal([vnetId.ToString()], listed);
        var bySubscription = new List<string>();
        await foreach (var resource in subscription.GetGenericResourcesAsync("tagName eq 'tier' and tagValue eq 'web'"))
        {
            bySubscription.Add(resource.Id.ToString());
        }

        Assert.Contains(vnetId.ToString(), bySubscription);

        await group.DeleteAsync(WaitUntil.Completed);
        Assert.False((await fixture.Arm.GetGenericResources().ExistsAsync(vnetId)).Value);
        Assert.False((await subscription.GetResourceGroups().ExistsAsync(name)).Value);
    }
}
