using Holdfast.Providers.Framework;
using Holdfast.Resources.Ids;
using Xunit;

namespace Holdfast.Providers.Tests.Framework;

public sealed class ResourceKeysTests
{
    [Fact]
    public void Group_MixedCase_IsLowerCased()
    {
        Assert.Equal("/groups/sub-abc/my-group", ResourceKeys.Group("SUB-ABC", "My-Group"));
    }

    [Fact]
    public void Resource_MixedCaseNestedId_IsLowerCasedPath()
    {
        var id = ResourceId.Parse("/subscriptions/SUB1/resourceGroups/RG1/providers/Microsoft.Network/virtualNetworks/VNet1/subnets/Default");

        Assert.Equal("/resources/sub1/rg1/microsoft.network/virtualnetworks/vnet1/subnets/default", ResourceKeys.Resource(id));
    }

    [Fact]
    public void Resource_IdsDifferingOnlyInCase_ShareOneKey()
    {
        var a = ResourceId.Parse("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnet1");
        var b = ResourceId.Parse("/subscriptions/SUB1/resourceGroups/RG1/providers/MICROSOFT.NETWORK/VIRTUALNETWORKS/VNET1");

        Assert.Equal(ResourceKeys.Resource(a), ResourceKeys.Resource(b));
    }

    [Theory]
    [InlineData("/subscriptions/sub1")]
    [InlineData("/subscriptions/sub1/resourceGroups/rg1")]
    [InlineData("/subscriptions/sub1/providers/Microsoft.Authorization/roleDefinitions/r1")]
    [InlineData("/providers/Microsoft.Management/managementGroups/root")]
    [InlineData("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/providers/Microsoft.Authorization/locks/l1")]
    public void Resource_NotResourceGroupScoped_Throws(string id)
    {
        Assert.Throws<ArgumentException>(() => ResourceKeys.Resource(ResourceId.Parse(id)));
    }

    [Fact]
    public void GroupOfResource_ResourceKey_IsKeyOfItsGroup()
    {
        var id = ResourceId.Parse("/subscriptions/Sub1/resourceGroups/RG1/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/s1");

        Assert.Equal(ResourceKeys.Group("Sub1", "RG1"), ResourceKeys.GroupOfResource(ResourceKeys.Resource(id)));
    }

    [Theory]
    [InlineData("/groups/sub1/rg1")]
    [InlineData("/resources/sub1")]
    [InlineData("/resources/sub1/rg1")]
    [InlineData("/operations/op1")]
    [InlineData("")]
    public void GroupOfResource_NotAResourceKey_ReturnsNull(string key)
    {
        Assert.Null(ResourceKeys.GroupOfResource(key));
    }

    [Fact]
    public void ResourcesOfGroup_Rg1AndRg10_PrefixesDoNotCollide()
    {
        var inRg10 = ResourceKeys.Resource(ResourceId.Parse("/subscriptions/sub1/resourceGroups/rg10/providers/Microsoft.Network/virtualNetworks/v1"));
        var inRg1 = ResourceKeys.Resource(ResourceId.Parse("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1"));

        Assert.DoesNotContain(ResourceKeys.ResourcesOfGroup("sub1", "rg1"), inRg10, StringComparison.Ordinal);
        Assert.False(inRg10.StartsWith(ResourceKeys.ResourcesOfGroup("sub1", "rg1"), StringComparison.Ordinal));
        Assert.StartsWith(ResourceKeys.ResourcesOfGroup("sub1", "rg1"), inRg1, StringComparison.Ordinal);
        Assert.StartsWith(ResourceKeys.ResourcesOfGroup("sub1", "rg10"), inRg10, StringComparison.Ordinal);
        Assert.Equal(ResourceKeys.Group("sub1", "rg10"), ResourceKeys.GroupOfResource(inRg10));
    }

    [Fact]
    public void ResourcesOfSubscription_Sub1AndSub10_PrefixesDoNotCollide()
    {
        var inSub10 = ResourceKeys.Resource(ResourceId.Parse("/subscriptions/sub10/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1"));

        Assert.False(inSub10.StartsWith(ResourceKeys.ResourcesOfSubscription("sub1"), StringComparison.Ordinal));
        Assert.False(ResourceKeys.Group("sub10", "rg1").StartsWith(ResourceKeys.GroupsOf("sub1"), StringComparison.Ordinal));
        Assert.StartsWith(ResourceKeys.GroupsOf("sub1"), ResourceKeys.Group("sub1", "rg1"), StringComparison.Ordinal);
    }

    [Fact]
    public void ResourcesOfType_VnetPrefix_DoesNotMatchSimilarlyNamedType()
    {
        var prefix = ResourceKeys.ResourcesOfType("sub1", "rg1", "Microsoft.Network", "virtualNetworks");
        var vnet = ResourceKeys.Resource(ResourceId.Parse("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1"));
        var gateway = ResourceKeys.Resource(ResourceId.Parse("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworkGateways/g1"));

        Assert.StartsWith(prefix, vnet, StringComparison.Ordinal);
        Assert.False(gateway.StartsWith(prefix, StringComparison.Ordinal));
    }

    [Fact]
    public void KeyBuilders_MixedCaseNames_AreLowerCased()
    {
        Assert.Equal("/tenants/tenant-a", ResourceKeys.Tenant("Tenant-A"));
        Assert.Equal("/subscriptions/sub1", ResourceKeys.Subscription("SUB1"));
        Assert.Equal("/operations/op-1", ResourceKeys.Operation("OP-1"));
        Assert.Equal("/registrations/sub1/microsoft.network", ResourceKeys.Registration("Sub1", "Microsoft.Network"));
        Assert.Equal("/principals/tenant-a/app-1", ResourceKeys.Principal("Tenant-A", "App-1"));
        Assert.Equal("/operationrefs/groups/sub1/rg1", ResourceKeys.OperationRef(ResourceKeys.Group("sub1", "rg1")));
    }
}
