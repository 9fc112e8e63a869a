using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Providers.Network;
using Holdfast.Resources.Ids;
using Holdfast.State;

namespace Holdfast.Server.Tests.Arm.Network;

/// <summary>
/// Microsoft.Network subnets and network interfaces through the real ARM pipeline, in-process over TLS: inline and child
/// subnets agree, NICs get private addresses (never a duplicate, even when many are created at once), addresses come
/// back on delete and on group deletion, and resources in use cannot be deleted.
/// </summary>
public sealed class NetworkResourceTests(NetworkServer server) : IClassFixture<NetworkServer>
{
    [Fact]
    public async Task VnetInlineSubnets_AndChildSubnets_AgreeBothWays()
    {
        const string group = "net-agree";
        await server.CreateGroupAsync(group);
        var vnet = server.Network(group, "virtualNetworks/v1");

        await server.PutSucceededAsync(vnet, """{"location":"local","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"a","properties":{"addressPrefix":"10.0.0.0/24"}}]}}""");
        var (status, child) = await server.SendAsync(HttpMethod.Get, vnet + "/subnets/a");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("10.0.0.0/24", child!["properties"]!["addressPrefix"]!.GetValue<string>());
        Assert.Equal(server.Id(group, "virtualNetworks/v1/subnets/a"), child["id"]!.GetValue<string>());
        Assert.NotNull(child["etag"]);

        await server.PutSucceededAsync(vnet + "/subnets/b", """{"properties":{"addressPrefix":"10.0.1.0/24"}}""");
        var (_, shown) = await server.SendAsync(HttpMethod.Get, vnet);
        Assert.Equal(["a", "b"], shown!["properties"]!["subnets"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()));
        var (_, list) = await server.SendAsync(HttpMethod.Get, vnet + "/subnets");
        Assert.Equal(2, list!["value"]!.AsArray().Count);

        var (refused, error) = await server.SendAsync(HttpMethod.Put, vnet + "/subnets/c", """{"properties":{"addressPrefix":"10.0.1.128/25"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Equal("NetcfgSubnetRangesOverlap", error!["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Nics_DynamicAndStatic_GetAddressesAndDuplicatesAreRefused()
    {
        const string group = "net-nics";
        await server.CreateGroupAsync(group);
        await server.PutSucceededAsync(server.Network(group, "virtualNetworks/v1"), """{"location":"local","properties":{"addressSpace":{"addressPrefixes":["10.1.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"10.1.0.0/29"}}]}}""");

        var fixedNic = await server.PutSucceededAsync(server.Network(group, "networkInterfaces/fixed"), NicBody(group, "10.1.0.5"));
        var first = await server.PutSucceededAsync(server.Network(group, "networkInterfaces/d1"), NicBody(group));
        var second = await server.PutSucceededAsync(server.Network(group, "networkInterfaces/d2"), NicBody(group), apiVersion: "2018-11-01");

        Assert.Equal("10.1.0.5", Address(fixedNic));
        Assert.Equal("Static", fixedNic["properties"]!["ipConfigurations"]![0]!["properties"]!["privateIPAllocationMethod"]!.GetValue<string>());
        Assert.Equal("10.1.0.4", Address(first));
        Assert.Equal("10.1.0.6", Address(second));
        var (full, fullError) = await server.SendAsync(HttpMethod.Put, server.Network(group, "networkInterfaces/d3"), NicBody(group));
        Assert.Equal(HttpStatusCode.BadRequest, full);
        Assert.Equal("SubnetIsFull", fullError!["error"]!["code"]!.GetValue<string>());
        var (duplicate, duplicateError) = await server.SendAsync(HttpMethod.Put, server.Network(group, "networkInterfaces/dup"), NicBody(group, "10.1.0.5"));
        Assert.Equal(HttpStatusCode.BadRequest, duplicate);
        Assert.Equal("PrivateIPAddressIsAllocated", duplicateError!["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await server.SendAsync(HttpMethod.Get, server.Network(group, "networkInterfaces/dup"))).Status);

        // Idempotent PUT: the same body again keeps the address and writes nothing.
        var (again, repeated) = await server.SendAsync(HttpMethod.Put, server.Network(group, "networkInterfaces/d1"), NicBody(group));
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.Equal("10.1.0.4", Address(repeated!));
        Assert.Equal(first["etag"]!.GetValue<string>(), repeated!["etag"]!.GetValue<string>());
    }

    [Fact]
    public async Task ConcurrentNics_OnASlash28_NeverShareAnAddress_AndTheRestFindItFull()
    {
        const string group = "net-race";
        await server.CreateGroupAsync(group);
        await server.PutSucceededAsync(server.Network(group, "virtualNetworks/v1"), """{"location":"local","properties":{"addressSpace":{"addressPrefixes":["10.2.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"10.2.0.0/28"}}]}}""");

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => server.SendAsync(HttpMethod.Put, server.Network(group, $"networkInterfaces/n{i:D2}"), NicBody(group))));

        Assert.All(answers, a => Assert.True(a.Status is HttpStatusCode.Created or HttpStatusCode.BadRequest, $"{(int)a.Status} {a.Body?.ToJsonString()}"));
        var created = answers.Where(a => a.Status == HttpStatusCode.Created).Select(a => Address(a.Body!)).ToList();
        Assert.Equal(11, created.Count);
        Assert.Equal(11, created.Distinct().Count());
        Assert.All(answers.Where(a => a.Status == HttpStatusCode.BadRequest), a => Assert.Equal("SubnetIsFull", a.Body!["error"]!["code"]!.GetValue<string>()));
        var subnet = ResourceId.Parse(server.Id(group, "virtualNetworks/v1/subnets/s"));
        Assert.Equal(11, (await server.IpamKeysAsync(NetworkKeys.AddressesOf(subnet))).Count);
    }

    [Fact]
    public async Task SubnetInUse_CannotBeDeleted_UntilItsNicIsDeleted()
    {
        const string group = "net-inuse";
        await server.CreateGroupAsync(group);
        var vnet = server.Network(group, "virtualNetworks/v1");
        await server.PutSucceededAsync(vnet, """{"location":"local","properties":{"addressSpace":{"addressPrefixes":["10.3.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"10.3.0.0/24"}},{"name":"t","properties":{"addressPrefix":"10.3.1.0/24"}}]}}""");
        await server.PutSucceededAsync(server.Network(group, "networkInterfaces/n1"), NicBody(group));

        var (refused, error) = await server.SendAsync(HttpMethod.Delete, vnet + "/subnets/s");
        Assert.Equal(HttpStatusCode.BadRequest, refused);
        Assert.Equal("InUseSubnetCannotBeDeleted", error!["error"]!["code"]!.GetValue<string>());
        var (vnetRefused, vnetError) = await server.SendAsync(HttpMethod.Delete, vnet);
        Assert.Equal(HttpStatusCode.BadRequest, vnetRefused);
        Assert.Equal("InUseSubnetCannotBeDeleted", vnetError!["error"]!["code"]!.GetValue<string>());

        Assert.Equal(HttpStatusCode.Accepted, (await server.SendAsync(HttpMethod.Delete, server.Network(group, "networkInterfaces/n1"))).Status);
        await server.WaitGoneAsync(server.Network(group, "networkInterfaces/n1"));
        var subnet = ResourceId.Parse(server.Id(group, "virtualNetworks/v1/subnets/s"));
        Assert.Empty(await server.IpamKeysAsync(NetworkKeys.AddressesOf(subnet)));
        Assert.Equal(HttpStatusCode.Accepted, (await server.SendAsync(HttpMethod.Delete, vnet + "/subnets/s")).Status);
        await server.WaitGoneAsync(vnet + "/subnets/s");
        var (_, shown) = await server.SendAsync(HttpMethod.Get, vnet);
        Assert.Equal(["t"], shown!["properties"]!["subnets"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()));
    }

    [Fact]
    public async Task AttachedNic_CannotBeDeleted_NicInUse()
    {
        const string group = "net-attached";
        await server.CreateGroupAsync(group);
        await server.PutSucceededAsync(server.Network(group, "virtualNetworks/v1"), """{"location":"local","properties":{"addressSpace":{"addressPrefixes":["10.4.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"10.4.0.0/24"}}]}}""");
        var nicPath = server.Network(group, "networkInterfaces/n1");
        await server.PutSucceededAsync(nicPath, NicBody(group));
        var vm = $"/subscriptions/{server.Subscription}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/vm1";
        // What compute does in its VM transaction.
        var stored = (await server.Store.GetAsync(NetworkInterfaceReferences.Key(ResourceId.Parse("/" + nicPath)), CancellationToken.None))!;
        var attach = NetworkInterfaceReferences.Attach(stored, vm, primary: true);
        Assert.True((await server.Store.TxnAsync(new TxnRequest([attach.Compare], [attach.Op]), CancellationToken.None)).Succeeded);

        var (status, error) = await server.SendAsync(HttpMethod.Delete, nicPath);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("NicInUse", error!["error"]!["code"]!.GetValue<string>());
        var (_, nic) = await server.SendAsync(HttpMethod.Get, nicPath);
        Assert.Equal(vm, nic!["properties"]!["virtualMachine"]!["id"]!.GetValue<string>());
        Assert.Equal("Succeeded", nic["properties"]!["provisioningState"]!.GetValue<string>());
    }

    [Fact]
    public async Task GroupDeletion_ReleasesEveryAddress()
    {
        const string group = "net-groupdelete";
        await server.CreateGroupAsync(group);
        await server.PutSucceededAsync(server.Network(group, "networkSecurityGroups/nsg1"), """{"location":"local"}""");
        await server.PutSucceededAsync(server.Network(group, "virtualNetworks/v1"), """{"location":"local","properties":{"addressSpace":{"addressPrefixes":["10.5.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"10.5.0.0/24","networkSecurityGroup":{"id":"NSG"}}}]}}""".Replace("NSG", server.Id(group, "networkSecurityGroups/nsg1"), StringComparison.Ordinal));
        for (var i = 0; i < 5; i++)
        {
            await server.PutSucceededAsync(server.Network(group, $"networkInterfaces/n{i}"), NicBody(group));
        }

        var subnet = ResourceId.Parse(server.Id(group, "virtualNetworks/v1/subnets/s"));
        Assert.Equal(5, (await server.IpamKeysAsync(NetworkKeys.AddressesOf(subnet))).Count);

        using (var response = await server.Admin.DeleteAsync($"subscriptions/{server.Subscription}/resourcegroups/{group}?api-version=2022-09-01"))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var until = TimeProvider.System.GetUtcNow() + TimeSpan.FromSeconds(60);
        while (true)
        {
            using var response = await server.Admin.GetAsync($"subscriptions/{server.Subscription}/resourcegroups/{group}?api-version=2022-09-01");
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                break;
            }

            Assert.True(TimeProvider.System.GetUtcNow() < until, "The group was not deleted.");
            await Task.Delay(100);
        }

        Assert.Empty(await server.IpamKeysAsync(NetworkKeys.AddressesOf(subnet)));
        Assert.Empty(await server.IpamKeysAsync(Holdfast.Providers.Framework.ResourceKeys.ResourcesOfGroup(server.Subscription, group)));
    }

    private string NicBody(string group, string? staticAddress = null)
    {
        var subnet = server.Id(group, "virtualNetworks/v1/subnets/s");
        var allocation = staticAddress is null ? string.Empty : $$""","privateIPAllocationMethod":"Static","privateIPAddress":"{{staticAddress}}" """.TrimEnd();
        return """{"location":"local","properties":{"ipConfigurations":[{"name":"ipconfig1","properties":{"subnet":{"id":"SUBNET"}ALLOCATION}}]}}""".Replace("SUBNET", subnet, StringComparison.Ordinal).Replace("ALLOCATION", allocation, StringComparison.Ordinal);
    }

    private static string Address(JsonNode nic) => nic["properties"]!["ipConfigurations"]![0]!["properties"]!["privateIPAddress"]!.GetValue<string>();
}
