using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Ids;
using Holdfast.Server.Compute.VirtualMachines;

namespace Holdfast.Server.Tests.Agents;

/// <summary>
/// What a real driver gets through the sync: a VM's guest spec (from its resource, its NIC and subnet, and the customData
/// kept apart) only while the agent has not reported the VM, and the console tail the agent reports, kept bounded.
/// </summary>
public sealed class AgentServiceGuestTests : IAsyncLifetime
{
    private const string Group = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg";
    private AgentHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await AgentHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task SyncAsync_InstanceNotYetReported_CarriesItsGuestSpec_AndNoneOnceReported()
    {
        using var certificate = await JoinedAsync("h1");
        await _harness.SyncAsync(certificate, "h1");
        await PutResourceAsync($"{Group}/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/default", """{"properties":{"addressPrefix":"10.9.1.0/24"}}""");
        await PutResourceAsync($"{Group}/providers/Microsoft.Network/networkInterfaces/nic1", """{"properties":{"ipConfigurations":[{"name":"ip1","properties":{"primary":true,"privateIPAddress":"10.9.1.4","subnet":{"id":"GROUP/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/default"}}}]}}""");
        await PutResourceAsync($"{Group}/providers/Microsoft.Compute/virtualMachines/web1", """
            {"properties":{"vmId":"vm-1","osProfile":{"computerName":"web-one","adminUsername":"ops","linuxConfiguration":{"ssh":{"publicKeys":[{"path":"/home/ops/.ssh/authorized_keys","keyData":"ssh-ed25519 AAAA ops"}]}}},
             "storageProfile":{"imageReference":{"publisher":"Debian","offer":"debian-12","sku":"12-gen2","version":"latest"},"osDisk":{"diskSizeGB":40},"dataDisks":[{"lun":2,"diskSizeGB":8,"name":"data2"}]},
             "networkProfile":{"networkInterfaces":[{"id":"GROUP/providers/Microsoft.Network/networkInterfaces/nic1"}]}}}
            """);
        await _harness.Store.PutAsync(VmGuestData.SecretsKey("vm-1"), """{"customData":"aGVsbG8="}"""u8.ToArray(), null, AgentHarness.Ct);
        var placed = await PlaceAsync("vm-1", $"{Group}/providers/Microsoft.Compute/virtualMachines/web1");

        var first = Assert.Single((await _harness.SyncAsync(certificate, "h1")).Desired);
        var reported = Assert.Single((await _harness.SyncAsync(certificate, "h1", new InstanceReport("vm-1", PowerState.Running, placed.Epoch))).Desired);

        var guest = first.Guest!;
        Assert.Equal(("web-one", "ops", "aGVsbG8=", "Debian:debian-12:12-gen2:latest", 40), (guest.ComputerName, guest.AdminUsername, guest.CustomData, guest.Image, guest.OsDiskSizeGb));
        Assert.Equal(["ssh-ed25519 AAAA ops"], guest.SshPublicKeys);
        Assert.Equal([new GuestDataDisk(2, 8, "data2")], guest.DataDisks);
        Assert.Equal(("10.9.1.4", "10.9.1.0/24"), (guest.PrivateIpAddress, guest.SubnetPrefix));
        Assert.DoesNotContain("aGVsbG8=", guest.ToString(), StringComparison.Ordinal);
        Assert.Null(reported.Guest);
    }

    [Fact]
    public async Task SyncAsync_ReportWithConsole_KeepsItsLast64KiB()
    {
        using var certificate = await JoinedAsync("h1");
        await _harness.SyncAsync(certificate, "h1");
        var placed = await _harness.PlaceAsync("vm-1");

        await _harness.Agents.SyncAsync(certificate, AgentHarness.Sync("h1", new InstanceReport("vm-1", PowerState.Running, placed.Epoch, Console: "booting\n")), AgentHarness.Ct);
        var first = Encoding.UTF8.GetString((await _harness.Store.GetAsync(VmGuestData.ConsoleKey("vm-1"), AgentHarness.Ct))!.Value.Span);
        var huge = new string('x', GuestSpec.MaxConsoleBytes) + "END";
        await _harness.Agents.SyncAsync(certificate, AgentHarness.Sync("h1", new InstanceReport("vm-1", PowerState.Running, placed.Epoch, Console: huge)), AgentHarness.Ct);
        var second = Encoding.UTF8.GetString((await _harness.Store.GetAsync(VmGuestData.ConsoleKey("vm-1"), AgentHarness.Ct))!.Value.Span);

        Assert.Equal("booting\n", first);
        Assert.Equal(GuestSpec.MaxConsoleBytes, second.Length);
        Assert.EndsWith("END", second, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SyncAsync_ConsoleOfAnInstanceNotOnThisHost_IsNotKept()
    {
        using var h1 = await JoinedAsync("h1");
        await _harness.SyncAsync(h1, "h1");
        var placed = await _harness.PlaceAsync("vm-1");
        using var h2 = await JoinedAsync("h2");

        await _harness.Agents.SyncAsync(h2, AgentHarness.Sync("h2", new InstanceReport("vm-1", PowerState.Running, placed.Epoch, Console: "forged")), AgentHarness.Ct);

        Assert.Null(await _harness.Store.GetAsync(VmGuestData.ConsoleKey("vm-1"), AgentHarness.Ct));
    }

    private async Task PutResourceAsync(string id, string json)
    {
        var document = JsonNode.Parse(json.Replace("GROUP", Group, StringComparison.Ordinal))!.AsObject();
        document["id"] = id;
        await _harness.Store.PutAsync(ResourceKeys.Resource(ResourceId.Parse(id)), Encoding.UTF8.GetBytes(document.ToJsonString()), null, AgentHarness.Ct);
    }

    private async Task<InstanceDocument> PlaceAsync(string id, string resourceId)
    {
        var result = await _harness.Capacity.PlaceAsync(new InstanceDocument { Id = id, ResourceId = resourceId, Demand = AgentHarness.Small }, [], [], request => _harness.Store.TxnAsync(request, CancellationToken.None), AgentHarness.Ct);
        Assert.True(result.Placed, result.Explanation?.Summary);
        await _harness.CaughtUpAsync(result.Revision);
        return (await _harness.ReadInstanceAsync(id))!;
    }

    private async Task<X509Certificate2> JoinedAsync(string host)
    {
        await _harness.PutHostAsync(host, HostState.Provisioning);
        return await _harness.JoinAsync(host, await _harness.PutJoinTokenAsync(host, TimeSpan.FromHours(1)));
    }
}
