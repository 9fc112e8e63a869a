using Holdfast.Providers.Framework;
using Holdfast.Providers.Network;
using Holdfast.Providers.Resources;
using Xunit;

namespace Holdfast.Providers.Tests.Framework;

public sealed class ProviderRegistryTests
{
    private readonly ProviderRegistry _registry = new([NetworkProvider.Create(), ResourcesProvider.Create()]);

    [Theory]
    [InlineData("Microsoft.Network")]
    [InlineData("microsoft.network")]
    [InlineData("MICROSOFT.NETWORK")]
    public void FindProvider_AnyCasing_FindsProvider(string providerNamespace)
    {
        Assert.Equal(NetworkProvider.Namespace, _registry.FindProvider(providerNamespace)?.Namespace);
    }

    [Theory]
    [InlineData("Microsoft.Network/virtualNetworks")]
    [InlineData("microsoft.network/VIRTUALNETWORKS")]
    public void FindType_AnyCasing_FindsType(string fullType)
    {
        var type = _registry.FindType(fullType);

        Assert.NotNull(type);
        Assert.Equal("Microsoft.Network/virtualNetworks", type.FullType);
    }

    [Fact]
    public void FindType_NestedType_FindsIt()
    {
        Assert.Equal("subscriptions/locations", _registry.FindType("microsoft.resources/subscriptions/locations")?.Type);
        Assert.Equal("virtualNetworks/subnets", _registry.FindType("Microsoft.Network/virtualNetworks/subnets")?.Type);
    }

    [Theory]
    [InlineData("Microsoft.Compute/virtualMachines")]
    [InlineData("Microsoft.Network")]
    [InlineData("Microsoft.Network/virtualNetworks/peerings")]
    public void FindType_Unknown_ReturnsNull(string fullType)
    {
        Assert.Null(_registry.FindType(fullType));
    }

    [Fact]
    public void FindProvider_Unknown_ReturnsNull()
    {
        Assert.Null(_registry.FindProvider("Microsoft.Compute"));
    }

    [Fact]
    public void Constructor_SameNamespaceInOtherCase_Throws()
    {
        var copy = new ResourceProviderDefinition("MICROSOFT.NETWORK", []);

        var ex = Assert.Throws<ArgumentException>(() => new ProviderRegistry([NetworkProvider.Create(), copy]));

        Assert.Contains("declared twice", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Providers_SeveralRegistered_AreOrderedByNamespace()
    {
        Assert.Equal(["Microsoft.Network", "Microsoft.Resources"], _registry.Providers.Select(p => p.Namespace));
    }

    [Fact]
    public void FindType_VirtualNetworks_ListsApiVersionsNewestFirst()
    {
        var type = _registry.FindType("Microsoft.Network/virtualNetworks")!;

        Assert.Equal("2025-03-01", type.ApiVersions[0]);
        Assert.Equal("2017-03-01", type.ApiVersions[^1]);
        Assert.True(type.SupportsApiVersion("2018-11-01"));
        Assert.False(type.SupportsApiVersion("2018-11-02"));
    }
}
