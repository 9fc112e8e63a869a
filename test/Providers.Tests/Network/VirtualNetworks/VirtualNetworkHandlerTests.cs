using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Network;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Xunit;

namespace Holdfast.Providers.Tests.Network.VirtualNetworks;

/// <summary>The handler is internal; it is reached as the server reaches it, through the provider's public type definition.</summary>
public sealed class VirtualNetworkHandlerTests
{
    private static readonly ResourceId VnetId =
        ResourceId.Parse("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnet1");

    private readonly IResourceTypeHandler _handler = NetworkProvider.Create().ResourceTypes.Single(t => t.Type == "virtualNetworks").Handler;

    [Fact]
    public void Validate_ValidVnet_DefaultsResourceGuidAndSubnetIds()
    {
        var context = Validate("""
            {
              "addressSpace": { "addressPrefixes": ["10.0.0.0/16", "fd00::/48"] },
              "subnets": [
                { "name": "default", "properties": { "addressPrefix": "10.0.0.0/24" } },
                { "name": "Apps", "properties": { "addressPrefix": "10.0.1.0/24" } },
                { "name": "v6", "properties": { "addressPrefix": "fd00::/64" } }
              ],
              "dhcpOptions": { "dnsServers": ["10.0.0.4", "fd00::4"] }
            }
            """);

        Assert.Empty(context.Errors);
        Assert.True(Guid.TryParse(context.Properties["resourceGuid"]?.GetValue<string>(), out _));
        Assert.False(context.Properties["enableDdosProtection"]!.GetValue<bool>());
        Assert.Empty(context.Properties["virtualNetworkPeerings"]!.AsArray());
        var subnets = context.Properties["subnets"]!.AsArray();
        Assert.Equal(VnetId + "/subnets/default", subnets[0]!["id"]!.GetValue<string>());
        Assert.Equal(VnetId + "/subnets/Apps", subnets[1]!["id"]!.GetValue<string>());
        Assert.All(subnets, s =>
        {
            Assert.Equal("Microsoft.Network/virtualNetworks/subnets", s!["type"]!.GetValue<string>());
            Assert.Equal(ProvisioningStates.Succeeded, s["properties"]!["provisioningState"]!.GetValue<string>());
        });
    }

    [Theory]
    [InlineData("10.0.0.0/30", true)]
    [InlineData("10.0.0.0/32", true)]
    [InlineData("10.0.0.0/29", false)]
    [InlineData("fd00::/64", false)]
    public void Validate_SubnetSmallerThanSlash29_IsRejected(string prefix, bool rejected)
    {
        var context = Validate($$"""{ "addressSpace": { "addressPrefixes": ["10.0.0.0/16", "fd00::/48"] }, "subnets": [{ "name": "s", "properties": { "addressPrefix": "{{prefix}}" } }] }""");

        Assert.Equal(rejected, context.Errors.Any(e => e.Code == "NetcfgInvalidSubnet"));
    }

    [Fact]
    public void Validate_NoSubnets_DefaultsToEmptyArray()
    {
        var context = Validate("""{ "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] } }""");

        Assert.Empty(context.Errors);
        Assert.Empty(context.Properties["subnets"]!.AsArray());
    }

    [Fact]
    public void Validate_Update_KeepsExistingResourceGuid()
    {
        var existing = new JsonObject { ["resourceGuid"] = "11111111-2222-3333-4444-555555555555" };

        var context = Validate("""{ "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] } }""", existing);

        Assert.Empty(context.Errors);
        Assert.False(context.IsCreate);
        Assert.Equal("11111111-2222-3333-4444-555555555555", context.Properties["resourceGuid"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{ "addressSpace": {} }""")]
    [InlineData("""{ "addressSpace": { "addressPrefixes": [] } }""")]
    [InlineData("""{ "addressSpace": "10.0.0.0/16" }""")]
    public void Validate_MissingAddressSpace_ReportsIt(string json)
    {
        var error = Assert.Single(Validate(json).Errors);

        Assert.Equal("properties.addressSpace.addressPrefixes", error.Target);
    }

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.0")]
    [InlineData("10.0.0/16")]
    [InlineData("banana")]
    [InlineData("010.0.0.0/16")]
    [InlineData("10/8")]
    [InlineData("/16")]
    public void Validate_MalformedAddressPrefix_ReportsInvalidAddressPrefixFormat(string prefix)
    {
        var context = Validate($$"""{ "addressSpace": { "addressPrefixes": ["{{prefix}}"] } }""");

        var error = Assert.Single(context.Errors);
        Assert.Equal("InvalidAddressPrefixFormat", error.Code);
        Assert.Equal("properties.addressSpace.addressPrefixes[0]", error.Target);
    }

    [Theory]
    [InlineData("10.0.0.1/16", "10.0.0.0/16")]
    [InlineData("10.1.2.3/8", "10.0.0.0/8")]
    [InlineData("192.168.1.200/25", "192.168.1.128/25")]
    [InlineData("fd00::1/48", "fd00::/48")]
    public void Validate_AddressPrefixWithHostBits_ReportsInvalidCidrNotationWithTheRightPrefix(string prefix, string expected)
    {
        var context = Validate($$"""{ "addressSpace": { "addressPrefixes": ["{{prefix}}"] } }""");

        var error = Assert.Single(context.Errors);
        Assert.Equal("InvalidCIDRNotation", error.Code);
        Assert.Equal("properties.addressSpace.addressPrefixes[0]", error.Target);
        Assert.EndsWith($"the address prefix should be {expected}.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NonStringAddressPrefix_ReportsInvalidAddressPrefixFormat()
    {
        var context = Validate("""{ "addressSpace": { "addressPrefixes": [16] } }""");

        Assert.Equal("InvalidAddressPrefixFormat", Assert.Single(context.Errors).Code);
    }

    [Fact]
    public void Validate_MalformedSubnetPrefix_ReportsIt()
    {
        var context = Validate("""
            {
              "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
              "subnets": [ { "name": "default", "properties": { "addressPrefix": "10.0.0.1/24" } } ]
            }
            """);

        var error = Assert.Single(context.Errors);
        Assert.Equal("InvalidCIDRNotation", error.Code);
        Assert.Equal("properties.subnets[0].properties.addressPrefix", error.Target);
        Assert.Contains("/subnets/default has an invalid CIDR notation", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_OverlappingAddressPrefixes_ReportsOverlap()
    {
        var context = Validate("""{ "addressSpace": { "addressPrefixes": ["10.0.0.0/16", "10.0.128.0/17"] } }""");

        var error = Assert.Single(context.Errors);
        Assert.Equal("NetcfgInvalidVirtualNetworkSite", error.Code);
        Assert.Equal("properties.addressSpace.addressPrefixes[1]", error.Target);
    }

    [Fact]
    public void Validate_SubnetOutsideAddressSpace_ReportsIt()
    {
        var context = Validate("""
            {
              "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
              "subnets": [ { "name": "outside", "properties": { "addressPrefix": "10.1.0.0/24" } } ]
            }
            """);

        var error = Assert.Single(context.Errors);
        Assert.Equal("NetcfgSubnetRangeOutsideVnet", error.Code);
        Assert.Equal("properties.subnets[0].properties.addressPrefix", error.Target);
    }

    [Fact]
    public void Validate_SubnetLargerThanAddressSpace_ReportsOutside()
    {
        var context = Validate("""
            {
              "addressSpace": { "addressPrefixes": ["10.0.0.0/24"] },
              "subnets": [ { "name": "big", "properties": { "addressPrefix": "10.0.0.0/16" } } ]
            }
            """);

        Assert.Equal("NetcfgSubnetRangeOutsideVnet", Assert.Single(context.Errors).Code);
    }

    [Fact]
    public void Validate_SubnetInSecondAddressPrefix_IsValid()
    {
        var context = Validate("""
            {
              "addressSpace": { "addressPrefixes": ["10.0.0.0/16", "192.168.0.0/24"] },
              "subnets": [ { "name": "s", "properties": { "addressPrefix": "192.168.0.128/25" } } ]
            }
            """);

        Assert.Empty(context.Errors);
    }

    [Fact]
    public void Validate_OverlappingSubnets_ReportsOverlapOnLaterSubnet()
    {
        var context = Validate("""
            {
              "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
              "subnets": [
                { "name": "a", "properties": { "addressPrefix": "10.0.0.0/23" } },
                { "name": "b", "properties": { "addressPrefix": "10.0.1.0/24" } }
              ]
            }
            """);

        var error = Assert.Single(context.Errors);
        Assert.Equal("NetcfgSubnetRangesOverlap", error.Code);
        Assert.Equal("properties.subnets[1].properties.addressPrefix", error.Target);
        Assert.Contains("'a'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DuplicateSubnetNamesInOtherCase_ReportsDuplicate()
    {
        var context = Validate("""
            {
              "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
              "subnets": [
                { "name": "default", "properties": { "addressPrefix": "10.0.0.0/24" } },
                { "name": "Default", "properties": { "addressPrefix": "10.0.1.0/24" } }
              ]
            }
            """);

        var error = Assert.Single(context.Errors);
        Assert.Equal("DuplicateResourceName", error.Code);
        Assert.Equal("properties.subnets[1].name", error.Target);
    }

    [Theory]
    [InlineData("""{ "properties": { "addressPrefix": "10.0.0.0/24" } }""")]
    [InlineData("""{ "name": 7, "properties": { "addressPrefix": "10.0.0.0/24" } }""")]
    [InlineData("\"default\"")]
    public void Validate_SubnetWithoutName_ReportsIt(string subnet)
    {
        var context = Validate($$"""{ "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] }, "subnets": [ {{subnet}} ] }""");

        var error = Assert.Single(context.Errors);
        Assert.Equal("properties.subnets[0]", error.Target);
    }

    [Fact]
    public void Validate_InvalidSubnetName_ReportsInvalidResourceName()
    {
        var context = Validate("""
            {
              "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
              "subnets": [ { "name": "bad name", "properties": { "addressPrefix": "10.0.0.0/24" } } ]
            }
            """);

        var error = Assert.Single(context.Errors);
        Assert.Equal(ArmErrorCodes.InvalidResourceName, error.Code);
        Assert.Equal("properties.subnets[0].name", error.Target);
    }

    [Theory]
    [InlineData("\"dns.example\"")]
    [InlineData("\"10.0.0.256\"")]
    [InlineData("53")]
    [InlineData("null")]
    [InlineData("\"53\"")]
    [InlineData("\"10.1\"")]
    [InlineData("\"010.0.0.4\"")]
    public void Validate_BadDnsServer_ReportsInvalidDnsServer(string server)
    {
        var context = Validate($$"""
            {
              "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
              "dhcpOptions": { "dnsServers": ["10.0.0.4", {{server}}] }
            }
            """);

        var error = Assert.Single(context.Errors);
        Assert.Equal("InvalidDnsServer", error.Code);
        Assert.Equal("properties.dhcpOptions.dnsServers[1]", error.Target);
    }

    [Fact]
    public void Validate_SeveralProblems_ReportsEveryOne()
    {
        var context = Validate("""
            {
              "addressSpace": { "addressPrefixes": ["10.0.0.0/16", "10.0.0.1/8"] },
              "subnets": [
                { "name": "a", "properties": { "addressPrefix": "10.0.0.0/24" } },
                { "name": "b", "properties": { "addressPrefix": "10.0.0.128/25" } },
                { "name": "A", "properties": { "addressPrefix": "10.0.2.0/24" } },
                { "name": "c", "properties": { "addressPrefix": "172.16.0.0/24" } }
              ],
              "dhcpOptions": { "dnsServers": ["not-an-ip"] }
            }
            """);

        Assert.Equal(
            [
                ("InvalidCIDRNotation", "properties.addressSpace.addressPrefixes[1]"),
                ("NetcfgSubnetRangesOverlap", "properties.subnets[1].properties.addressPrefix"),
                ("DuplicateResourceName", "properties.subnets[2].name"),
                ("NetcfgSubnetRangeOutsideVnet", "properties.subnets[3].properties.addressPrefix"),
                ("InvalidDnsServer", "properties.dhcpOptions.dnsServers[0]"),
            ],
            context.Errors.Select(e => (e.Code, e.Target)));
    }

    private ResourceValidationContext Validate(string properties, JsonObject? existing = null)
    {
        var context = new ResourceValidationContext(VnetId, JsonNode.Parse(properties)!.AsObject(), existing);
        _handler.Validate(context);
        return context;
    }
}
