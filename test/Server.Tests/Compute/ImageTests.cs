using System.Net;

namespace Holdfast.Server.Tests.Compute;

/// <summary>
/// A VM's <c>imageReference</c> resolves against the built-in platform image catalog (exact version and OS type set as
/// Azure reports them; unknown images refused with <c>PlatformImageNotFound</c>) or a Microsoft.Compute/images resource.
/// </summary>
public sealed class ImageTests : IAsyncLifetime
{
    private ComputeTestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await ComputeTestServer.StartAsync(simulatedHosts: 1);
        await _server.CreateGroupAsync("rg");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string Path(string type, string name) => $"subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/{type}/{name}?api-version={(type == "disks" ? DiskTests.DiskApi : ComputeTestServer.ComputeApi)}";

    private string Id(string type, string name) => "/" + Path(type, name).Split('?')[0];

    [Fact]
    public async Task Vm_WithAPlatformImage_ResolvesLatest_AndItsOsDiskIsWindowsOf127Gb()
    {
        var (status, vm) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmWithImage("""{"publisher":"MicrosoftWindowsServer","offer":"WindowsServer","sku":"2022-datacenter-azure-edition","version":"latest"}"""));

        Assert.Equal(HttpStatusCode.Created, status);
        var profile = vm["properties"]!["storageProfile"]!;
        Assert.Equal("20348.2762.241009", profile["imageReference"]!["exactVersion"]!.GetValue<string>());
        Assert.Equal("Windows", profile["osDisk"]!["osType"]!.GetValue<string>());
        var osDiskName = profile["osDisk"]!["name"]!.GetValue<string>();
        var (_, disk) = await _server.SendAsync(HttpMethod.Get, Path("disks", osDiskName));
        Assert.Equal(127, disk["properties"]!["diskSizeGB"]!.GetValue<int>());
        Assert.Equal("Windows", disk["properties"]!["osType"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"publisher":"Canonical","offer":"0001-com-ubuntu-server-jammy","sku":"99_99-lts","version":"latest"}""")]
    [InlineData("""{"publisher":"Canonical","offer":"0001-com-ubuntu-server-jammy","sku":"22_04-lts-gen2","version":"1.2.3"}""")]
    [InlineData("""{"publisher":"Nobody","offer":"Nothing","sku":"none"}""")]
    public async Task Vm_WithAnUnknownPlatformImage_Is404PlatformImageNotFound_AndWritesNothing(string reference)
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmWithImage(reference));

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("PlatformImageNotFound", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await _server.SendAsync(HttpMethod.Get, _server.VmPath("rg", "vm1"))).Status);
        Assert.Equal(0, (await _server.UsagesAsync())["virtualMachines"].Current);
    }

    [Fact]
    public async Task Image_FromAManagedDisk_IsUsableByAVm_AndAMissingImageIs404()
    {
        Assert.Equal(HttpStatusCode.OK, (await _server.SendAsync(HttpMethod.Put, Path("disks", "src"), ComputeTestServer.Json("""{"location":"local","properties":{"creationData":{"createOption":"Empty"},"diskSizeGB":40}}"""))).Status);
        var (status, image) = await _server.SendAsync(HttpMethod.Put, Path("images", "img1"), ComputeTestServer.Json("{\"location\":\"local\",\"properties\":{\"storageProfile\":{\"osDisk\":{\"osType\":\"linux\",\"osState\":\"Generalized\",\"managedDisk\":{\"id\":\"" + Id("disks", "src") + "\"}}}}}"));
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("Linux", image["properties"]!["storageProfile"]!["osDisk"]!["osType"]!.GetValue<string>());
        Assert.Equal(40, image["properties"]!["storageProfile"]!["osDisk"]!["diskSizeGB"]!.GetValue<int>());
        Assert.Equal("V1", image["properties"]!["hyperVGeneration"]!.GetValue<string>());

        var (vmStatus, vm) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm1"), VmWithImage("{\"id\":\"" + Id("images", "img1") + "\"}"));
        Assert.Equal(HttpStatusCode.Created, vmStatus);
        Assert.Equal("Linux", vm["properties"]!["storageProfile"]!["osDisk"]!["osType"]!.GetValue<string>());
        Assert.Equal("Succeeded", (await _server.WaitTerminalAsync(_server.VmPath("rg", "vm1")))!["properties"]!["provisioningState"]!.GetValue<string>());

        var (missing, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm2"), VmWithImage("{\"id\":\"" + Id("images", "nope") + "\"}"));
        Assert.Equal(HttpStatusCode.NotFound, missing);
        Assert.Equal("NotFound", body["error"]!["code"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"storageProfile":{}}""")]
    [InlineData("""{"storageProfile":{"osDisk":{"osType":"Linux","osState":"Generalized"}}}""")]
    [InlineData("""{"storageProfile":{"osDisk":{"osType":"BeOS","osState":"Generalized","blobUri":"https://x.blob.local/v/a.vhd"}}}""")]
    [InlineData("""{"storageProfile":{"osDisk":{"osType":"Linux","osState":"Generalized","blobUri":"not a uri"}}}""")]
    public async Task Image_Invalid_Is400InvalidParameter(string properties)
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Put, Path("images", "img1"), ComputeTestServer.Json("{\"location\":\"local\",\"properties\":" + properties + "}"));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", body["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Versions_ListTheCatalog_AndAVersionHasItsOs()
    {
        var offers = $"subscriptions/{_server.Subscription}/providers/Microsoft.Compute/locations/local/publishers/Canonical/artifacttypes/vmimage/offers";
        using var list = await _server.Admin.GetAsync($"{offers}/0001-com-ubuntu-server-jammy/skus/22_04-lts-gen2/versions?api-version={ComputeTestServer.ComputeApi}", _server.Ct);
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        var versions = System.Text.Json.Nodes.JsonNode.Parse(await list.Content.ReadAsStringAsync(_server.Ct))!.AsArray();
        Assert.Equal(["22.04.202409250", "22.04.202410020"], versions.Select(v => v!["name"]!.GetValue<string>()));

        var (status, version) = await _server.SendAsync(HttpMethod.Get, $"{offers}/0001-com-ubuntu-server-jammy/skus/22_04-lts-gen2/versions/22.04.202410020?api-version={ComputeTestServer.ComputeApi}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Linux", version["properties"]!["osDiskImage"]!["operatingSystem"]!.GetValue<string>());
        Assert.Equal("V2", version["properties"]!["hyperVGeneration"]!.GetValue<string>());

        var (missing, body) = await _server.SendAsync(HttpMethod.Get, $"{offers}/nothing/skus/none/versions/1.0?api-version={ComputeTestServer.ComputeApi}");
        Assert.Equal(HttpStatusCode.NotFound, missing);
        Assert.Equal("NotFound", body["error"]!["code"]!.GetValue<string>());
    }

    private static StringContent VmWithImage(string reference) => ComputeTestServer.Json(
        "{\"location\":\"local\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_B1s\"},\"storageProfile\":{\"imageReference\":" + reference + ",\"osDisk\":{\"createOption\":\"FromImage\"}}}}");

}
