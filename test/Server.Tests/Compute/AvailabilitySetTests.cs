using System.Net;

namespace Holdfast.Server.Tests.Compute;

/// <summary>
/// Availability sets: Azure's defaults and limits, VMs that reference a set are spread across racks (fault domains) of
/// the simulated fleet and listed in the set's <c>virtualMachines</c>; a set with VMs cannot be deleted and a VM cannot
/// change its set.
/// </summary>
public sealed class AvailabilitySetTests : IAsyncLifetime
{
    private ComputeTestServer _server = null!;

    public async Task InitializeAsync()
    {
        // 24 simulated hosts: three racks of eight.
        _server = await ComputeTestServer.StartAsync(simulatedHosts: 24);
        await _server.CreateGroupAsync("rg");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string SetPath(string name) => $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/availabilitySets/{name}?api-version={ComputeTestServer.ComputeApi}";

    private string SetId(string name) => "/" + SetPath(name).Split('?')[0];

    [Fact]
    public async Task Put_WithoutCounts_DefaultsToTwoFaultAndFiveUpdateDomainsClassic()
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, SetPath("as1"), ComputeTestServer.Json("""{"location":"local","properties":{"virtualMachines":[{"id":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/forged"}]}}"""));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, body["properties"]!["platformFaultDomainCount"]!.GetValue<int>());
        Assert.Equal(5, body["properties"]!["platformUpdateDomainCount"]!.GetValue<int>());
        Assert.Equal("Classic", body["sku"]!["name"]!.GetValue<string>());
        Assert.Empty(body["properties"]!["virtualMachines"]!.AsArray());
    }

    [Theory]
    [InlineData("""{"platformFaultDomainCount":4}""")]
    [InlineData("""{"platformFaultDomainCount":0}""")]
    [InlineData("""{"platformUpdateDomainCount":21}""")]
    [InlineData("""{"platformUpdateDomainCount":"five"}""")]
    public async Task Put_CountOutOfRange_Is400InvalidParameter(string properties)
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, SetPath("as1"), ComputeTestServer.Json("{\"location\":\"local\",\"properties\":" + properties + "}"));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await _server.SendAsync(HttpMethod.Get, SetPath("as1"))).Status);
    }

    [Fact]
    public async Task Put_UnknownSku_Is400()
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, SetPath("as1"), ComputeTestServer.Json("""{"location":"local","sku":{"name":"Gold"},"properties":{}}"""));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", body["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Vms_InOneSet_LandInDifferentRacks_AndTheSetCannotBeDeletedUntilTheyAreGone()
    {
        Assert.Equal(HttpStatusCode.OK, (await _server.SendAsync(HttpMethod.Put, SetPath("as1"), ComputeTestServer.Json("""{"location":"local","sku":{"name":"Aligned"},"properties":{"platformFaultDomainCount":3}}"""))).Status);
        for (var i = 1; i <= 3; i++)
        {
            var (status, _) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", $"vm{i}"), VmInSet(SetId("as1")));
            Assert.Equal(HttpStatusCode.Created, status);
            Assert.Equal("Succeeded", (await _server.WaitTerminalAsync(_server.VmPath("rg", $"vm{i}")))!["properties"]!["provisioningState"]!.GetValue<string>());
        }

        var instances = await _server.InstancesAsync();
        Assert.Equal(3, instances.Count);
        Assert.All(instances, i => Assert.Equal(SetId("as1").ToLowerInvariant(), i.AvailabilitySet));
        var racks = instances.Select(i => _server.Capacity.FindHost(i.Host!)!.Value.Description.FaultDomain).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        Assert.Equal(3, racks.Count);

        var (_, set) = await _server.SendAsync(HttpMethod.Get, SetPath("as1"));
        Assert.Equal(3, set["properties"]!["virtualMachines"]!.AsArray().Count);
        Assert.Equal("Aligned", set["sku"]!["name"]!.GetValue<string>());

        var (refused, error) = await _server.SendAsync(HttpMethod.Delete, SetPath("as1"));
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Equal("OperationNotAllowed", error["error"]!["code"]!.GetValue<string>());

        for (var i = 1; i <= 3; i++)
        {
            await _server.SendAsync(HttpMethod.Delete, _server.VmPath("rg", $"vm{i}"));
            await _server.WaitGoneAsync(_server.VmPath("rg", $"vm{i}"));
        }

        var (_, emptied) = await _server.SendAsync(HttpMethod.Get, SetPath("as1"));
        Assert.Empty(emptied["properties"]!["virtualMachines"]!.AsArray());
        var (deleted, _) = await _server.SendAsync(HttpMethod.Delete, SetPath("as1"));
        Assert.True(deleted is HttpStatusCode.OK or HttpStatusCode.Accepted or HttpStatusCode.NoContent, deleted.ToString());
        await _server.WaitGoneAsync(SetPath("as1"));
    }

    [Fact]
    public async Task Vm_WithAMissingSet_Is404NotFound_AndWritesNothing()
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmInSet(SetId("nope")));

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("NotFound", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await _server.SendAsync(HttpMethod.Get, _server.VmPath("rg", "vm1"))).Status);
        Assert.Equal(0, (await _server.UsagesAsync())["virtualMachines"].Current);
    }

    [Fact]
    public async Task Vm_WithASetInAnotherGroup_Is400InvalidParameter()
    {
        var other = SetId("as1").Replace("/resourceGroups/rg/", "/resourceGroups/other/", StringComparison.Ordinal);

        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmInSet(other));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", body["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Vm_ChangingItsSet_IsRefusedWithPropertyChangeNotAllowed()
    {
        await _server.SendAsync(HttpMethod.Put, SetPath("as1"), ComputeTestServer.Json("""{"location":"local","properties":{}}"""));
        await _server.SendAsync(HttpMethod.Put, SetPath("as2"), ComputeTestServer.Json("""{"location":"local","properties":{}}"""));
        Assert.Equal(HttpStatusCode.Created, (await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmInSet(SetId("as1")))).Status);
        await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));

        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmInSet(SetId("as2")));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("PropertyChangeNotAllowed", body["error"]!["code"]!.GetValue<string>());
        var (_, set2) = await _server.SendAsync(HttpMethod.Get, SetPath("as2"));
        Assert.Empty(set2["properties"]!["virtualMachines"]!.AsArray());
    }

    private static StringContent VmInSet(string setId) => ComputeTestServer.Json(
        "{\"location\":\"local\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_B1s\"},\"availabilitySet\":{\"id\":\"" + setId + "\"}}}");
}
