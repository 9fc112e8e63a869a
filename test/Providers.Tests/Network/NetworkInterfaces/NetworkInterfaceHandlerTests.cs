using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Xunit;

namespace Holdfast.Providers.Tests.Network.NetworkInterfaces;

public sealed class NetworkInterfaceHandlerTests : IAsyncLifetime
{
    private const string Vnet = """{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"small","properties":{"addressPrefix":"10.0.0.0/29"}},{"name":"big","properties":{"addressPrefix":"10.0.1.0/24"}}]}""";
    private readonly NetworkWorld _world = new();

    public Task InitializeAsync() => _world.PutAsync(NetworkWorld.Id("virtualNetworks/v1"), Vnet);

    public Task DisposeAsync() => _world.CloseAsync().AsTask();

    [Fact]
    public async Task Put_Dynamic_TakesLowestFreeUsableAddressAndRecordsOwner()
    {
        var first = await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small"));
        var second = await _world.PutAsync(NetworkWorld.Nic("n2"), NetworkWorld.NicBody("v1", "small"));

        Assert.Equal("10.0.0.4", NetworkWorld.AddressOf(first));
        Assert.Equal("10.0.0.5", NetworkWorld.AddressOf(second));
        Assert.Equal(ProvisioningStates.Succeeded, NetworkWorld.State(first));
        var addresses = await _world.AddressesAsync(NetworkWorld.Subnet("v1", "small"));
        Assert.Equal(NetworkWorld.Nic("n1") + "/ipConfigurations/ipconfig1", addresses["10.0.0.4"]);
        Assert.Equal(NetworkWorld.Nic("n2") + "/ipConfigurations/ipconfig1", addresses["10.0.0.5"]);
    }

    [Fact]
    public async Task Put_Defaults_AsAzureShowsThem()
    {
        var nic = await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small"));

        var properties = nic["properties"]!;
        var configuration = properties["ipConfigurations"]![0]!;
        Assert.Equal(NetworkWorld.Nic("n1") + "/ipConfigurations/ipconfig1", configuration["id"]!.GetValue<string>());
        Assert.Equal("Microsoft.Network/networkInterfaces/ipConfigurations", configuration["type"]!.GetValue<string>());
        Assert.Equal("Dynamic", configuration["properties"]!["privateIPAllocationMethod"]!.GetValue<string>());
        Assert.Equal("IPv4", configuration["properties"]!["privateIPAddressVersion"]!.GetValue<string>());
        Assert.True(configuration["properties"]!["primary"]!.GetValue<bool>());
        Assert.False(properties["enableAcceleratedNetworking"]!.GetValue<bool>());
        Assert.False(properties["enableIPForwarding"]!.GetValue<bool>());
        Assert.True(Guid.TryParse(properties["resourceGuid"]!.GetValue<string>(), out _));
        Assert.Null(properties["virtualMachine"]);
    }

    [Fact]
    public async Task Put_SubnetFull_FailsWithSubnetIsFull()
    {
        for (var i = 0; i < 3; i++)
        {
            await _world.PutAsync(NetworkWorld.Nic("n" + i), NetworkWorld.NicBody("v1", "small"));
        }

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.TryPutAsync(NetworkWorld.Nic("n4"), NetworkWorld.NicBody("v1", "small")));

        Assert.Equal("SubnetIsFull", error.Code);
        Assert.Contains("10.0.0.0/29", error.Message, StringComparison.Ordinal);
        Assert.Null(await _world.GetAsync(NetworkWorld.Nic("n4")));
        Assert.Equal(3, (await _world.AddressesAsync(NetworkWorld.Subnet("v1", "small"))).Count);
    }

    [Theory]
    [InlineData("10.0.1.10", "PrivateIPAddressNotInSubnet")]
    [InlineData("10.0.0.1", "PrivateIPAddressInReservedRange")]
    [InlineData("10.0.0.3", "PrivateIPAddressInReservedRange")]
    [InlineData("10.0.0.7", "PrivateIPAddressInReservedRange")]
    public async Task Put_StaticAddressNotUsable_IsRefused(string address, string code)
    {
        var error = await Assert.ThrowsAsync<ApiException>(() => _world.TryPutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small", address)));

        Assert.Equal(code, error.Code);
        Assert.Contains(address, error.Message, StringComparison.Ordinal);
        Assert.Empty(await _world.AddressesAsync(NetworkWorld.Subnet("v1", "small")));
    }

    [Fact]
    public async Task Put_StaticAddressTaken_IsRefusedNamingTheHolder()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small", "10.0.0.6"));

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.TryPutAsync(NetworkWorld.Nic("n2"), NetworkWorld.NicBody("v1", "small", "10.0.0.6")));

        Assert.Equal("PrivateIPAddressIsAllocated", error.Code);
        Assert.Contains(NetworkWorld.Nic("n1").ToString(), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_DynamicAfterStatic_SkipsTheStaticAddress()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small", "10.0.0.4"));

        var dynamic = await _world.PutAsync(NetworkWorld.Nic("n2"), NetworkWorld.NicBody("v1", "small"));

        Assert.Equal("10.0.0.5", NetworkWorld.AddressOf(dynamic));
    }

    [Fact]
    public async Task Update_Dynamic_KeepsItsAddress()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small"));
        await _world.PutAsync(NetworkWorld.Nic("n2"), NetworkWorld.NicBody("v1", "small"));
        await _world.DeleteAsync(NetworkWorld.Nic("n1"));

        var updated = await _world.PutAsync(NetworkWorld.Nic("n2"), NetworkWorld.NicBody("v1", "small").Replace("\"ipconfig1\"", "\"ipconfig1\",\"tagged\":1", StringComparison.Ordinal));

        Assert.Equal("10.0.0.5", NetworkWorld.AddressOf(updated));
        Assert.Equal(["10.0.0.5"], (await _world.AddressesAsync(NetworkWorld.Subnet("v1", "small"))).Keys);
    }

    [Fact]
    public async Task Update_DynamicToStaticOnItsOwnAddress_KeepsIt()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small"));

        var pinned = await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small", "10.0.0.4"));

        Assert.Equal("Static", pinned["properties"]!["ipConfigurations"]![0]!["properties"]!["privateIPAllocationMethod"]!.GetValue<string>());
        Assert.Equal(["10.0.0.4"], (await _world.AddressesAsync(NetworkWorld.Subnet("v1", "small"))).Keys);
    }

    [Fact]
    public async Task Put_TwoConfigurations_GetTwoAddresses()
    {
        var subnet = NetworkWorld.Subnet("v1", "small");
        var body = """{"ipConfigurations":[{"name":"a","properties":{"primary":true,"subnet":{"id":"S"}}},{"name":"b","properties":{"subnet":{"id":"S"}}}]}""".Replace("S", subnet.ToString(), StringComparison.Ordinal);

        var nic = await _world.PutAsync(NetworkWorld.Nic("n1"), body);

        Assert.Equal("10.0.0.4", NetworkWorld.AddressOf(nic, 0));
        Assert.Equal("10.0.0.5", NetworkWorld.AddressOf(nic, 1));
        Assert.False(nic["properties"]!["ipConfigurations"]![1]!["properties"]!["primary"]!.GetValue<bool>());
        Assert.Equal(2, (await _world.AddressesAsync(subnet)).Count);
    }

    [Fact]
    public async Task Update_StaticAddressChanged_ReleasesTheOldOne()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small", "10.0.0.6"));

        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small", "10.0.0.5"));

        Assert.Equal(["10.0.0.5"], (await _world.AddressesAsync(NetworkWorld.Subnet("v1", "small"))).Keys);
    }

    [Fact]
    public async Task Update_MovedToAnotherSubnet_ReleasesTheOldAddress()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small"));

        var moved = await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "big"));

        Assert.Equal("10.0.1.4", NetworkWorld.AddressOf(moved));
        Assert.Empty(await _world.AddressesAsync(NetworkWorld.Subnet("v1", "small")));
        Assert.Single(await _world.AddressesAsync(NetworkWorld.Subnet("v1", "big")));
    }

    [Fact]
    public async Task Delete_ReleasesTheAddressForTheNextNic()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small"));

        await _world.DeleteAsync(NetworkWorld.Nic("n1"));
        var next = await _world.PutAsync(NetworkWorld.Nic("n2"), NetworkWorld.NicBody("v1", "small"));

        Assert.Null(await _world.GetAsync(NetworkWorld.Nic("n1")));
        Assert.Equal("10.0.0.4", NetworkWorld.AddressOf(next));
    }

    [Fact]
    public async Task Put_SubnetIdInOtherCasing_TakesFromTheSameSubnet()
    {
        await _world.PutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "small"));
        var lower = NetworkWorld.NicBody("v1", "small").Replace(NetworkWorld.Subnet("v1", "small").ToString(), NetworkWorld.Subnet("v1", "small").ToString().ToLowerInvariant(), StringComparison.Ordinal);

        var second = await _world.PutAsync(NetworkWorld.Nic("n2"), lower);

        Assert.Equal("10.0.0.5", NetworkWorld.AddressOf(second));
        Assert.Equal(2, (await _world.AddressesAsync(NetworkWorld.Subnet("v1", "small"))).Count);
    }

    [Fact]
    public async Task Put_SubnetMissing_InvalidResourceReference()
    {
        var error = await Assert.ThrowsAsync<ApiException>(() => _world.TryPutAsync(NetworkWorld.Nic("n1"), NetworkWorld.NicBody("v1", "nope")));

        Assert.Equal("InvalidResourceReference", error.Code);
    }

    [Fact]
    public async Task Put_SecurityGroupMissing_InvalidResourceReference()
    {
        var body = NetworkWorld.NicBody("v1", "small")[..^1] + $$$""","networkSecurityGroup":{"id":"{{{NetworkWorld.Id("networkSecurityGroups/none")}}}"}}""";

        var error = await Assert.ThrowsAsync<ApiException>(() => _world.TryPutAsync(NetworkWorld.Nic("n1"), body));

        Assert.Equal("InvalidResourceReference", error.Code);
        Assert.Empty(await _world.AddressesAsync(NetworkWorld.Subnet("v1", "small")));
    }

    [Fact]
    public async Task Put_SecurityGroupExists_IsAttached()
    {
        await _world.PutAsync(NetworkWorld.Id("networkSecurityGroups/nsg1"), "{}");
        var body = NetworkWorld.NicBody("v1", "small")[..^1] + $$$""","networkSecurityGroup":{"id":"{{{NetworkWorld.Id("networkSecurityGroups/nsg1")}}}"}}""";

        var nic = await _world.PutAsync(NetworkWorld.Nic("n1"), body);

        Assert.Equal(NetworkWorld.Id("networkSecurityGroups/nsg1").ToString(), nic["properties"]!["networkSecurityGroup"]!["id"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{}""", "InvalidIPConfigCount")]
    [InlineData("""{"ipConfigurations":[]}""", "InvalidIPConfigCount")]
    [InlineData("""{"ipConfigurations":[{"name":"a","properties":{}}]}""", "LinkedInvalidPropertyId")]
    [InlineData("""{"ipConfigurations":[{"name":"a","properties":{"subnet":{"id":"not-an-id"}}}]}""", "LinkedInvalidPropertyId")]
    [InlineData("""{"ipConfigurations":[{"name":"a","properties":{"subnet":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1"}}}]}""", "InvalidResourceReference")]
    [InlineData("""{"ipConfigurations":[{"name":"a","properties":{"subnet":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/small"},"privateIPAllocationMethod":"Static"}}]}""", "PrivateIPAddressMissing")]
    [InlineData("""{"ipConfigurations":[{"name":"a","properties":{"subnet":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/small"},"privateIPAllocationMethod":"Static","privateIPAddress":"10.0.0"}}]}""", "InvalidPrivateIPAddressFormat")]
    [InlineData("""{"ipConfigurations":[{"name":"a","properties":{"subnet":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/small"},"privateIPAllocationMethod":"Sometimes"}}]}""", "InvalidRequestFormat")]
    [InlineData("""{"ipConfigurations":[{"name":"a","properties":{"subnet":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/small"},"privateIPAddressVersion":"IPv6"}}]}""", "InvalidParameter")]
    [InlineData("""{"ipConfigurations":[{"name":"a","properties":{"subnet":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/small"}}},{"name":"b","properties":{"subnet":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/small"}}}]}""", "NetworkInterfaceMustHaveOneOneIPConfigAsPrimary")]
    [InlineData("""{"ipConfigurations":[{"name":"a","properties":{"primary":true,"subnet":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/small"}}},{"name":"A","properties":{"primary":true,"subnet":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/small"}}}]}""", "DuplicateResourceName")]
    [InlineData("""{"ipConfigurations":[null]}""", "InvalidRequestFormat")]
    [InlineData("""{"ipConfigurations":[{"name":"a","properties":{"subnet":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/small"}}}],"dnsSettings":"x"}""", "InvalidRequestFormat")]
    [InlineData("""{"ipConfigurations":[{"name":"a","properties":{"subnet":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/small"}}}],"enableIPForwarding":"yes"}""", "InvalidRequestFormat")]
    public void Validate_BadInterface_ReportsAzureCode(string properties, string code)
    {
        var context = new ResourceValidationContext(NetworkWorld.Nic("n1"), JsonNode.Parse(properties)!.AsObject(), null);

        _world.Handler(NetworkWorld.Nic("n1")).Validate(context);

        Assert.Contains(context.Errors, e => e.Code == code);
    }

    [Fact]
    public async Task Put_ClientSetsVirtualMachine_IsIgnored()
    {
        var body = NetworkWorld.NicBody("v1", "small")[..^1] + ""","virtualMachine":{"id":"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"}}""";

        var nic = await _world.PutAsync(NetworkWorld.Nic("n1"), body);

        Assert.Null(nic["properties"]!["virtualMachine"]);
    }

    [Fact]
    public async Task ConcurrentPuts_OnSmallSubnet_NeverShareAnAddressAndTheRestFindItFull()
    {
        await _world.PutAsync(NetworkWorld.Id("virtualNetworks/v2"), """{"addressSpace":{"addressPrefixes":["10.2.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"10.2.0.0/28"}}]}""");

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
        {
            for (var attempt = 0; attempt < 4; attempt++)
            {
                try
                {
                    if (await _world.TryPutAsync(NetworkWorld.Nic("c" + i), NetworkWorld.NicBody("v2", "s")))
                    {
                        return "ok";
                    }
                }
                catch (ApiException e)
                {
                    return e.Code;
                }
            }

            return "conflict";
        })));

        Assert.Equal(11, outcomes.Count(o => o == "ok"));
        Assert.Equal(9, outcomes.Count(o => o == "SubnetIsFull"));
        var addresses = await _world.AddressesAsync(NetworkWorld.Subnet("v2", "s"));
        Assert.Equal(11, addresses.Count);
        var owners = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < 20; i++)
        {
            if (await _world.GetAsync(NetworkWorld.Nic("c" + i)) is { } nic)
            {
                var address = NetworkWorld.AddressOf(nic);
                Assert.Equal(nic["id"]!.GetValue<string>() + "/ipConfigurations/ipconfig1", addresses[address]);
                Assert.True(owners.Add(address), $"{address} was given twice.");
            }
        }

        Assert.Equal(11, owners.Count);
    }
}
