using System.Net;

namespace Holdfast.Server.Tests.Compute;

/// <summary>
/// A VM references its network interfaces as SDK samples do: they are attached in the VM's own transaction (a NIC in
/// use elsewhere or missing refuses the VM, writing nothing), cannot be deleted while attached, and are detached when
/// the VM goes.
/// </summary>
public sealed class VirtualMachineNetworkTests : IAsyncLifetime
{
    private ComputeTestServer _server = null!;

    private string NicId => $"/subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic1";

    public async Task InitializeAsync()
    {
        _server = await ComputeTestServer.StartAsync(simulatedHosts: 1);
        await _server.CreateGroupAsync("rg");
        var vnet = $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet?api-version=2024-05-01";
        Assert.Equal(HttpStatusCode.Created, (await _server.SendAsync(HttpMethod.Put, vnet, ComputeTestServer.Json("""{"location":"local","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"subnets":[{"name":"default","properties":{"addressPrefix":"10.0.0.0/24"}}]}}"""))).Status);
        await _server.WaitTerminalAsync(vnet);
        var nic = NicId[1..] + "?api-version=2024-05-01";
        var body = "{\"location\":\"local\",\"properties\":{\"ipConfigurations\":[{\"name\":\"ipconfig1\",\"properties\":{\"subnet\":{\"id\":\"/subscriptions/" + _server.Subscription + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default\"}}}]}}";
        Assert.Equal(HttpStatusCode.Created, (await _server.SendAsync(HttpMethod.Put, nic, ComputeTestServer.Json(body))).Status);
        await _server.WaitTerminalAsync(nic);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Vm_WithANic_AttachesIt_TheNicCannotBeDeletedUntilTheVmIsGone()
    {
        var (status, _) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmWithNic(NicId));
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("Succeeded", (await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1")))!["properties"]!["provisioningState"]!.GetValue<string>());
        var (_, nic) = await _server.SendAsync(HttpMethod.Get, NicId[1..] + "?api-version=2024-05-01");
        Assert.Equal(_server.VmPath("rg", "vm1").Split('?')[0], nic["properties"]!["virtualMachine"]!["id"]!.GetValue<string>().TrimStart('/'));
        Assert.True(nic["properties"]!["primary"]!.GetValue<bool>());

        var (deleteNic, refused) = await _server.SendAsync(HttpMethod.Delete, NicId[1..] + "?api-version=2024-05-01");
        Assert.Equal(HttpStatusCode.BadRequest, deleteNic);
        Assert.Equal("NicInUse", refused["error"]!["code"]!.GetValue<string>());

        await _server.SendAsync(HttpMethod.Delete, _server.VmPath("rg", "vm1"));
        await _server.WaitGoneAsync(_server.VmPath("rg", "vm1"));
        var (_, detached) = await _server.SendAsync(HttpMethod.Get, NicId[1..] + "?api-version=2024-05-01");
        Assert.Null(detached["properties"]!["virtualMachine"]);
        Assert.Equal(HttpStatusCode.Accepted, (await _server.SendAsync(HttpMethod.Delete, NicId[1..] + "?api-version=2024-05-01")).Status);
    }

    [Fact]
    public async Task Vm_WithANicInUse_IsRefusedAndWritesNothing()
    {
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmWithNic(NicId));
        await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));

        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm2"), VmWithNic(NicId));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("NicInUse", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await _server.SendAsync(HttpMethod.Get, _server.VmPath("rg", "vm2"))).Status);
        Assert.Equal(1, (await _server.UsagesAsync())["virtualMachines"].Current);
    }

    [Fact]
    public async Task Vm_WithAMissingNic_IsRefused()
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmWithNic(NicId.Replace("nic1", "nope", StringComparison.Ordinal)));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidResourceReference", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal(0, (await _server.UsagesAsync())["virtualMachines"].Current);
    }

    [Fact]
    public async Task Vm_WithTwoNicsWithoutPrimary_IsNetworkInterfaceMustHavePrimaryPropertySet()
    {
        var json = "{\"location\":\"local\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_B1s\"},\"networkProfile\":{\"networkInterfaces\":[{\"id\":\"" + NicId + "\"},{\"id\":\"" + NicId.Replace("nic1", "nic2", StringComparison.Ordinal) + "\"}]}}}";

        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.Json(json));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("NetworkInterfaceMustHavePrimaryPropertySet", body["error"]!["code"]!.GetValue<string>());
        Assert.Contains(NicId, body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Vm_WithTwoNicsBothMarkedPrimary_IsInvalidParameter()
    {
        var json = "{\"location\":\"local\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_B1s\"},\"networkProfile\":{\"networkInterfaces\":[{\"id\":\"" + NicId + "\",\"properties\":{\"primary\":true}},{\"id\":\"" + NicId.Replace("nic1", "nic2", StringComparison.Ordinal) + "\",\"properties\":{\"primary\":true}}]}}}";

        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.Json(json));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal("networkProfile.networkInterfaces", body["error"]!["target"]!.GetValue<string>());
    }

    private static StringContent VmWithNic(string nicId) => ComputeTestServer.Json(
        "{\"location\":\"local\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_B1s\"},\"networkProfile\":{\"networkInterfaces\":[{\"id\":\"" + nicId + "\"}]}}}");
}
