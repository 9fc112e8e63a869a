using Holdfast.Resources.Ids;
using Xunit;

namespace Holdfast.Resources.Tests.Ids;

public sealed class ResourceIdTests
{
    private const string VirtualNetworkId = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/MyGroup/providers/Microsoft.Network/virtualNetworks/MyVnet";

    [Fact]
    public void Parse_Subscription_ReturnsSubscription()
    {
        var id = ResourceId.Parse("/subscriptions/00000000-0000-0000-0000-000000000001");

        Assert.True(id.IsSubscription);
        Assert.False(id.IsResourceGroup);
        Assert.Equal("00000000-0000-0000-0000-000000000001", id.SubscriptionId);
        Assert.Null(id.ResourceGroupName);
        Assert.Null(id.ProviderNamespace);
        Assert.Equal(ResourceId.SubscriptionType, id.ResourceType);
        Assert.Equal("00000000-0000-0000-0000-000000000001", id.Name);
        Assert.Null(id.Parent);
    }

    [Fact]
    public void Parse_ResourceGroup_ReturnsGroupUnderSubscription()
    {
        var id = ResourceId.Parse("/subscriptions/sub1/resourceGroups/MyGroup");

        Assert.True(id.IsResourceGroup);
        Assert.False(id.IsSubscription);
        Assert.Equal("sub1", id.SubscriptionId);
        Assert.Equal("MyGroup", id.ResourceGroupName);
        Assert.Equal(ResourceId.ResourceGroupType, id.ResourceType);
        Assert.Equal("MyGroup", id.Name);
        Assert.Equal(ResourceId.Subscription("sub1"), id.Parent);
    }

    [Fact]
    public void Parse_TopLevelResource_ReturnsNamespaceTypeAndName()
    {
        var id = ResourceId.Parse(VirtualNetworkId);

        Assert.Equal("MyGroup", id.ResourceGroupName);
        Assert.Equal("Microsoft.Network", id.ProviderNamespace);
        Assert.Equal("Microsoft.Network/virtualNetworks", id.ResourceType);
        Assert.Equal("MyVnet", id.Name);
        Assert.Null(id.Scope);
        Assert.Equal([new ResourceIdSegment("virtualNetworks", "MyVnet")], id.Segments);
        Assert.Equal(VirtualNetworkId, id.ToString());
    }

    [Fact]
    public void Parse_NestedResource_ReturnsEverySegment()
    {
        var id = ResourceId.Parse(VirtualNetworkId + "/subnets/Default");

        Assert.Equal("Microsoft.Network/virtualNetworks/subnets", id.ResourceType);
        Assert.Equal("Default", id.Name);
        Assert.Equal(
            [new ResourceIdSegment("virtualNetworks", "MyVnet"), new ResourceIdSegment("subnets", "Default")],
            id.Segments);
    }

    [Fact]
    public void Parse_TenantLevelResource_HasNoSubscriptionOrParent()
    {
        var id = ResourceId.Parse("/providers/Microsoft.Management/managementGroups/Root");

        Assert.Null(id.SubscriptionId);
        Assert.Null(id.ResourceGroupName);
        Assert.False(id.IsSubscription);
        Assert.False(id.IsResourceGroup);
        Assert.Equal("Microsoft.Management/managementGroups", id.ResourceType);
        Assert.Equal("Root", id.Name);
        Assert.Null(id.Parent);
        Assert.Equal("/providers/Microsoft.Management/managementGroups/Root", id.ToString());
    }

    [Fact]
    public void Parse_ExtensionResource_KeepsScopeAndExtensionType()
    {
        var text = VirtualNetworkId + "/providers/Microsoft.Authorization/roleAssignments/ra1";

        var id = ResourceId.Parse(text);

        Assert.Equal(ResourceId.Parse(VirtualNetworkId), id.Scope);
        Assert.Equal("Microsoft.Authorization", id.ProviderNamespace);
        Assert.Equal("Microsoft.Authorization/roleAssignments", id.ResourceType);
        Assert.Equal("ra1", id.Name);
        Assert.Equal("00000000-0000-0000-0000-000000000001", id.SubscriptionId);
        Assert.Equal("MyGroup", id.ResourceGroupName);
        Assert.Equal(text, id.ToString());
        Assert.Equal(id.Scope, id.Parent);
    }

    [Fact]
    public void Parse_ExtensionOfTenantLevelResource_KeepsScope()
    {
        var id = ResourceId.Parse("/providers/Microsoft.Management/managementGroups/Root/providers/Microsoft.Authorization/roleAssignments/ra1");

        Assert.Equal(ResourceId.Parse("/providers/Microsoft.Management/managementGroups/Root"), id.Scope);
        Assert.Equal("Microsoft.Authorization/roleAssignments", id.ResourceType);
        Assert.Null(id.SubscriptionId);
    }

    [Fact]
    public void Parse_KeywordsInOtherCase_NormalisesKeywordsAndPreservesNames()
    {
        var id = ResourceId.Parse("/SUBSCRIPTIONS/Sub1/RESOURCEGROUPS/MyGroup/PROVIDERS/Microsoft.Network/virtualNetworks/MyVnet");

        Assert.Equal("/subscriptions/Sub1/resourceGroups/MyGroup/providers/Microsoft.Network/virtualNetworks/MyVnet", id.ToString());
    }

    [Fact]
    public void Equals_DifferentCasing_IsEqualWithSameHashCodeAndOwnCasing()
    {
        var original = ResourceId.Parse(VirtualNetworkId);
        var upper = ResourceId.Parse(VirtualNetworkId.ToUpperInvariant());

        Assert.Equal(original, upper);
        Assert.True(original == upper);
        Assert.False(original != upper);
        Assert.Equal(original.GetHashCode(), upper.GetHashCode());
        Assert.Equal(VirtualNetworkId, original.ToString());
        Assert.Equal("MYVNET", upper.Name);
    }

    [Fact]
    public void Equals_DifferentName_IsNotEqual()
    {
        var a = ResourceId.Parse(VirtualNetworkId);
        var b = ResourceId.Parse(VirtualNetworkId + "2");

        Assert.NotEqual(a, b);
        Assert.True(a != b);
        Assert.False(a.Equals(null));
    }

    [Fact]
    public void Parent_NestedResource_IsEnclosingResource()
    {
        var subnet = ResourceId.Parse(VirtualNetworkId + "/subnets/Default");

        Assert.Equal(ResourceId.Parse(VirtualNetworkId), subnet.Parent);
    }

    [Fact]
    public void Parent_TopLevelResource_IsResourceGroup()
    {
        var vnet = ResourceId.Parse(VirtualNetworkId);

        var parent = vnet.Parent;

        Assert.NotNull(parent);
        Assert.True(parent.IsResourceGroup);
        Assert.Equal("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/MyGroup", parent.ToString());
    }

    [Fact]
    public void Parent_SubscriptionLevelResource_IsSubscription()
    {
        var id = ResourceId.Parse("/subscriptions/sub1/providers/Microsoft.Authorization/roleDefinitions/reader");

        Assert.Equal(ResourceId.Subscription("sub1"), id.Parent);
    }

    [Fact]
    public void Child_OfResource_AppendsSegmentAndRoundTrips()
    {
        var vnet = ResourceId.Parse(VirtualNetworkId);

        var subnet = vnet.Child("subnets", "Default");

        Assert.Equal(VirtualNetworkId + "/subnets/Default", subnet.ToString());
        Assert.Equal("Microsoft.Network/virtualNetworks/subnets", subnet.ResourceType);
        Assert.Equal(vnet, subnet.Parent);
        Assert.Equal(subnet, ResourceId.Parse(subnet.ToString()));
    }

    [Fact]
    public void Child_OfExtensionResource_KeepsScope()
    {
        var extension = ResourceId.Extension(ResourceId.Parse(VirtualNetworkId), "Microsoft.Insights", new ResourceIdSegment("diagnosticSettings", "d1"));

        var child = extension.Child("parts", "p1");

        Assert.Equal(extension.Scope, child.Scope);
        Assert.Equal(VirtualNetworkId + "/providers/Microsoft.Insights/diagnosticSettings/d1/parts/p1", child.ToString());
    }

    [Fact]
    public void Child_OfResourceGroup_Throws()
    {
        var group = ResourceId.ResourceGroup("sub1", "rg1");

        Assert.Throws<InvalidOperationException>(() => group.Child("subnets", "Default"));
    }

    [Fact]
    public void Resource_Factory_FormatsLikeParse()
    {
        var id = ResourceId.Resource("00000000-0000-0000-0000-000000000001", "MyGroup", "Microsoft.Network", new ResourceIdSegment("virtualNetworks", "MyVnet"));

        Assert.Equal(VirtualNetworkId, id.ToString());
        Assert.Equal(ResourceId.Parse(VirtualNetworkId), id);
    }

    [Theory]
    [InlineData("")]
    [InlineData("subscriptions/sub1")]
    [InlineData("/")]
    [InlineData("/subscriptions/sub1/")]
    [InlineData("/subscriptions/sub1/resourceGroups/rg1/")]
    [InlineData("/subscriptions//resourceGroups/rg1")]
    [InlineData("/subscriptions/sub1/resourceGroups//providers/Microsoft.Network/virtualNetworks/v")]
    [InlineData("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks")]
    [InlineData("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v/subnets")]
    [InlineData("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v/providers")]
    [InlineData("/subscriptions/sub1/resourceGroups")]
    [InlineData("/subscriptions")]
    [InlineData("/subscriptions/sub1/things/t1")]
    [InlineData("/providers/Microsoft.Network")]
    public void TryParse_BadInput_FailsWithMessage(string text)
    {
        var ok = ResourceId.TryParse(text, out var id, out var error);

        Assert.False(ok);
        Assert.Null(id);
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void TryParse_Null_Fails()
    {
        Assert.False(ResourceId.TryParse(null, out var id, out var error));
        Assert.Null(id);
        Assert.NotNull(error);
    }

    [Fact]
    public void TryParse_TrailingSlash_SaysEmptySegment()
    {
        Assert.False(ResourceId.TryParse(VirtualNetworkId + "/", out _, out var error));

        Assert.Contains("empty segment", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_TypeWithoutName_SaysSo()
    {
        Assert.False(ResourceId.TryParse(VirtualNetworkId + "/subnets", out _, out var error));

        Assert.Contains("type without a name", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadInput_ThrowsFormatException()
    {
        var ex = Assert.Throws<FormatException>(() => ResourceId.Parse("subscriptions/sub1"));

        Assert.Contains("must start with", ex.Message, StringComparison.Ordinal);
    }
}
