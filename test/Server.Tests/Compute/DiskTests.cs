using System.Net;
using System.Text.Json.Nodes;

namespace Holdfast.Server.Tests.Compute;

/// <summary>
/// Managed disks: Azure's defaults and checks; a VM attaches existing disks and creates its OS disk and Empty data
/// disks in its own transaction; an attached disk cannot be deleted or attached elsewhere; dropping a data disk from
/// the VM detaches it; deleting the VM deletes or detaches each disk per its deleteOption.
/// </summary>
public sealed class DiskTests : IAsyncLifetime
{
    public const string DiskApi = "2023-04-02";

    private ComputeTestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await ComputeTestServer.StartAsync(simulatedHosts: 1);
        await _server.CreateGroupAsync("rg");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string DiskPath(string name) => $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/disks/{name}?api-version={DiskApi}";

    private string DiskId(string name) => "/" + DiskPath(name).Split('?')[0];

    private string VmId(string name) => "/" + _server.VmPath("rg", name).Split('?')[0];

    private async Task<JsonObject> GetDiskAsync(string name)
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Get, DiskPath(name));
        Assert.Equal(HttpStatusCode.OK, status);
        return body;
    }

    private async Task CreateEmptyDiskAsync(string name)
    {
        var (status, _) = await _server.SendAsync(HttpMethod.Put, DiskPath(name), ComputeTestServer.Json("""{"location":"local","properties":{"creationData":{"createOption":"Empty"},"diskSizeGB":64}}"""));
        Assert.Equal(HttpStatusCode.OK, status);
        await _server.WaitTerminalAsync(DiskPath(name));
    }

    [Fact]
    public async Task Put_EmptyDisk_DefaultsToStandardLrsUnattached_AndIgnoresAForgedManagedBy()
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, DiskPath("d1"), ComputeTestServer.Json("""{"location":"local","managedBy":"/forged","properties":{"creationData":{"createOption":"empty"},"diskSizeGB":64,"diskState":"Attached"}}"""));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Standard_LRS", body["sku"]!["name"]!.GetValue<string>());
        Assert.Null(body["managedBy"]);
        Assert.Equal("Unattached", body["properties"]!["diskState"]!.GetValue<string>());
        Assert.Equal("Empty", body["properties"]!["creationData"]!["createOption"]!.GetValue<string>());
        Assert.Equal(64L * 1024 * 1024 * 1024, body["properties"]!["diskSizeBytes"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("""{"location":"local","properties":{"creationData":{"createOption":"Empty"}}}""")]
    [InlineData("""{"location":"local","properties":{"diskSizeGB":10}}""")]
    [InlineData("""{"location":"local","properties":{"creationData":{"createOption":"Upload"},"diskSizeGB":10}}""")]
    [InlineData("""{"location":"local","properties":{"creationData":{"createOption":"Empty"},"diskSizeGB":0}}""")]
    [InlineData("""{"location":"local","sku":{"name":"Gold_LRS"},"properties":{"creationData":{"createOption":"Empty"},"diskSizeGB":10}}""")]
    [InlineData("""{"location":"local","properties":{"creationData":{"createOption":"Copy","sourceResourceId":"not-an-id"}}}""")]
    public async Task Put_BadDisk_Is400InvalidParameter_AndWritesNothing(string json)
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, DiskPath("d1"), ComputeTestServer.Json(json));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await _server.SendAsync(HttpMethod.Get, DiskPath("d1"))).Status);
    }

    [Fact]
    public async Task Patch_GrowsADisk_ButNeverShrinksIt()
    {
        await CreateEmptyDiskAsync("d1");

        var (grown, body) = await _server.SendAsync(HttpMethod.Patch, DiskPath("d1"), ComputeTestServer.Json("""{"properties":{"diskSizeGB":128}}"""));
        Assert.Equal(HttpStatusCode.OK, grown);
        Assert.Equal(128, body["properties"]!["diskSizeGB"]!.GetValue<int>());
        await _server.WaitTerminalAsync(DiskPath("d1"));

        var (shrunk, error) = await _server.SendAsync(HttpMethod.Patch, DiskPath("d1"), ComputeTestServer.Json("""{"properties":{"diskSizeGB":16}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, shrunk);
        Assert.Equal("InvalidParameter", error["error"]!["code"]!.GetValue<string>());
        Assert.Equal(128, (await GetDiskAsync("d1"))["properties"]!["diskSizeGB"]!.GetValue<int>());
        Assert.Equal(128L * 1024 * 1024 * 1024, (await GetDiskAsync("d1"))["properties"]!["diskSizeBytes"]!.GetValue<long>());
    }

    [Fact]
    public async Task Put_CopyOfADisk_TakesItsSize()
    {
        await CreateEmptyDiskAsync("d1");

        var (status, body) = await _server.SendAsync(HttpMethod.Put, DiskPath("d2"), ComputeTestServer.Json("{\"location\":\"local\",\"sku\":{\"name\":\"Premium_LRS\"},\"properties\":{\"creationData\":{\"createOption\":\"Copy\",\"sourceResourceId\":\"" + DiskId("d1") + "\"}}}"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(64, body["properties"]!["diskSizeGB"]!.GetValue<int>());
        Assert.Equal("Premium_LRS", body["sku"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Vm_AttachingADisk_MarksItAttached_ItCannotBeDeletedOrAttachedElsewhere_UntilDetached()
    {
        await CreateEmptyDiskAsync("d1");
        Assert.Equal(HttpStatusCode.Created, (await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmWithDataDisks(AttachDisk(0, DiskId("d1"))))).Status);
        Assert.Equal("Succeeded", (await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1")))!["properties"]!["provisioningState"]!.GetValue<string>());

        var disk = await GetDiskAsync("d1");
        Assert.Equal(VmId("vm1"), disk["managedBy"]!.GetValue<string>());
        Assert.Equal("Attached", disk["properties"]!["diskState"]!.GetValue<string>());

        var (deleteStatus, deleteBody) = await _server.SendAsync(HttpMethod.Delete, DiskPath("d1"));
        Assert.Equal(HttpStatusCode.Conflict, deleteStatus);
        Assert.Equal("OperationNotAllowed", deleteBody["error"]!["code"]!.GetValue<string>());

        var (otherStatus, otherBody) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm2"), VmWithDataDisks(AttachDisk(0, DiskId("d1"))));
        Assert.Equal(HttpStatusCode.Conflict, otherStatus);
        Assert.Equal("OperationNotAllowed", otherBody["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await _server.SendAsync(HttpMethod.Get, _server.VmPath("rg", "vm2"))).Status);

        // Detach: the VM without the data disk.
        var (detachStatus, _) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmWithDataDisks());
        Assert.Equal(HttpStatusCode.OK, detachStatus);
        await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));
        var detached = await GetDiskAsync("d1");
        Assert.Null(detached["managedBy"]);
        Assert.Equal("Unattached", detached["properties"]!["diskState"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Accepted, (await _server.SendAsync(HttpMethod.Delete, DiskPath("d1"))).Status);
        await _server.WaitGoneAsync(DiskPath("d1"));
    }

    [Fact]
    public async Task Vm_AttachingAMissingDisk_Is404_AndWritesNothing()
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmWithDataDisks(AttachDisk(0, DiskId("nope"))));

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("NotFound", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await _server.SendAsync(HttpMethod.Get, _server.VmPath("rg", "vm1"))).Status);
    }

    [Fact]
    public async Task Vm_WithTwoDisksAtOneLun_Is400InvalidParameter()
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmWithDataDisks(EmptyDisk(1, 8), EmptyDisk(1, 8)));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", body["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Vm_FromImage_CreatesItsOsAndEmptyDisks_AndDeletingItDeletesOrDetachesThemPerDeleteOption()
    {
        var json = "{\"location\":\"local\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_B1s\"},\"storageProfile\":{"
            + "\"imageReference\":{\"publisher\":\"Canonical\",\"offer\":\"0001-com-ubuntu-server-jammy\",\"sku\":\"22_04-lts-gen2\",\"version\":\"latest\"},"
            + "\"osDisk\":{\"createOption\":\"FromImage\",\"deleteOption\":\"Delete\",\"managedDisk\":{\"storageAccountType\":\"Premium_LRS\"}},"
            + "\"dataDisks\":[" + EmptyDisk(0, 16) + "]}}}";
        var (status, vm) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.Json(json));
        Assert.Equal(HttpStatusCode.Created, status);
        var osDisk = vm["properties"]!["storageProfile"]!["osDisk"]!;
        var osName = osDisk["name"]!.GetValue<string>();
        Assert.Matches("^vm1_OsDisk_1_[0-9a-f]{32}$", osName);
        Assert.Equal(DiskId(osName), osDisk["managedDisk"]!["id"]!.GetValue<string>());
        var dataDisk = vm["properties"]!["storageProfile"]!["dataDisks"]![0]!;
        Assert.Equal("Detach", dataDisk["deleteOption"]!.GetValue<string>());
        var dataName = dataDisk["name"]!.GetValue<string>();
        await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));

        var os = await GetDiskAsync(osName);
        Assert.Equal(VmId("vm1"), os["managedBy"]!.GetValue<string>());
        Assert.Equal("Premium_LRS", os["sku"]!["name"]!.GetValue<string>());
        Assert.Equal("FromImage", os["properties"]!["creationData"]!["createOption"]!.GetValue<string>());
        var data = await GetDiskAsync(dataName);
        Assert.Equal(16, data["properties"]!["diskSizeGB"]!.GetValue<int>());
        Assert.Equal("Attached", data["properties"]!["diskState"]!.GetValue<string>());

        // A second identical PUT keeps the same disks.
        var (again, vmAgain) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.Json(json));
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.Equal(osName, vmAgain["properties"]!["storageProfile"]!["osDisk"]!["name"]!.GetValue<string>());
        Assert.Equal(dataName, vmAgain["properties"]!["storageProfile"]!["dataDisks"]![0]!["name"]!.GetValue<string>());
        await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));

        await _server.SendAsync(HttpMethod.Delete, _server.VmPath("rg", "vm1"));
        await _server.WaitGoneAsync(_server.VmPath("rg", "vm1"));

        Assert.Equal(HttpStatusCode.NotFound, (await _server.SendAsync(HttpMethod.Get, DiskPath(osName))).Status);
        var kept = await GetDiskAsync(dataName);
        Assert.Null(kept["managedBy"]);
        Assert.Equal("Unattached", kept["properties"]!["diskState"]!.GetValue<string>());
    }

    [Fact]
    public async Task DeletingTheGroup_RemovesItsVmsDisksAndSets()
    {
        await CreateEmptyDiskAsync("d1");
        var set = $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/availabilitySets/as1?api-version={ComputeTestServer.ComputeApi}";
        Assert.Equal(HttpStatusCode.OK, (await _server.SendAsync(HttpMethod.Put, set, ComputeTestServer.Json("""{"location":"local","properties":{}}"""))).Status);
        var json = "{\"location\":\"local\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_B1s\"},\"availabilitySet\":{\"id\":\"/" + set.Split('?')[0] + "\"},\"storageProfile\":{"
            + "\"imageReference\":{\"publisher\":\"Canonical\",\"offer\":\"0001-com-ubuntu-server-jammy\",\"sku\":\"22_04-lts-gen2\",\"version\":\"latest\"},"
            + "\"dataDisks\":[" + AttachDisk(0, DiskId("d1")) + "," + EmptyDisk(1, 8) + "]}}}";
        Assert.Equal(HttpStatusCode.Created, (await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), ComputeTestServer.Json(json))).Status);
        await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1"));

        var groupPath = $"subscriptions/{_server.Subscription}/resourcegroups/rg?api-version=2022-09-01";
        Assert.Equal(HttpStatusCode.Accepted, (await _server.SendAsync(HttpMethod.Delete, groupPath)).Status);
        await _server.WaitGoneAsync(groupPath);

        var left = await _server.Store.RangeAsync(new Holdfast.State.RangeRequest(Holdfast.Providers.Framework.ResourceKeys.ResourcesOfGroup(_server.Subscription, "rg")), _server.Ct);
        Assert.Empty(left.Items);
        Assert.Empty(await _server.InstancesAsync());
    }

    private static string AttachDisk(int lun, string id) => "{\"lun\":" + lun + ",\"createOption\":\"Attach\",\"managedDisk\":{\"id\":\"" + id + "\"}}";

    private static string EmptyDisk(int lun, int sizeGb) => "{\"lun\":" + lun + ",\"createOption\":\"Empty\",\"diskSizeGB\":" + sizeGb + "}";

    private static StringContent VmWithDataDisks(params string[] disks) => ComputeTestServer.Json(
        "{\"location\":\"local\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_B1s\"},\"storageProfile\":{\"dataDisks\":[" + string.Join(",", disks) + "]}}}");
}
