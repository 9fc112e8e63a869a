using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Inventory;

namespace Holdfast.Server.Tests.Compute;

/// <summary><c>GET …/providers/Microsoft.Compute/skus</c>: every catalog size, restricted where no in-service host could hold it.</summary>
public sealed class ResourceSkuTests : IAsyncLifetime
{
    private ComputeTestServer _server = null!;

    public async Task InitializeAsync() => _server = await ComputeTestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string SkusPath(string query = "") => $"subscriptions/{_server.Subscription}/providers/Microsoft.Compute/skus?api-version=2021-07-01{query}";

    [Fact]
    public async Task Skus_OnAFleet_RestrictExactlyTheSizesNoInServiceHostCouldHold()
    {
        await _server.AddHostAsync("h1", new CapacityVector(16, 64 * 1024, 100, 0));
        await _server.AddHostAsync("big-but-draining", new CapacityVector(128, 1024 * 1024, 4000, 8), HostState.Draining);

        var skus = await SkusAsync(SkusPath());

        Assert.Equal(45, skus.Count);
        Assert.Empty(skus["Standard_D2s_v3"]["restrictions"]!.AsArray());
        Assert.Empty(skus["Standard_D16s_v5"]["restrictions"]!.AsArray());
        Assert.Equal("NotAvailableForSubscription", skus["Standard_D32s_v3"]["restrictions"]![0]!["reasonCode"]!.GetValue<string>());
        Assert.Equal("NotAvailableForSubscription", skus["Standard_NC6"]["restrictions"]![0]!["reasonCode"]!.GetValue<string>());
        Assert.Equal("Location", skus["Standard_NC6"]["restrictions"]![0]!["type"]!.GetValue<string>());
        Assert.Equal(["local"], skus["Standard_NC6"]["restrictions"]![0]!["restrictionInfo"]!["locations"]!.AsArray().Select(l => l!.GetValue<string>()));
        var vmSizes = await VmSizeNamesAsync();
        Assert.Equal(vmSizes.Order(), skus.Values.Where(s => s["restrictions"]!.AsArray().Count == 0).Select(s => s["name"]!.GetValue<string>()).Order());

        await _server.AddHostAsync("gpu", new CapacityVector(32, 128 * 1024, 1024, 4));
        Assert.Empty((await SkusAsync(SkusPath()))["Standard_NC6"]["restrictions"]!.AsArray());
    }

    [Fact]
    public async Task Skus_OfASize_HaveAzuresShapeAndCapabilities()
    {
        var skus = await SkusAsync(SkusPath());

        var d2s = skus["Standard_D2s_v3"];
        Assert.Equal("virtualMachines", d2s["resourceType"]!.GetValue<string>());
        Assert.Equal("Standard", d2s["tier"]!.GetValue<string>());
        Assert.Equal("D2s_v3", d2s["size"]!.GetValue<string>());
        Assert.Equal("standardDSv3Family", d2s["family"]!.GetValue<string>());
        Assert.Equal(["local"], d2s["locations"]!.AsArray().Select(l => l!.GetValue<string>()));
        Assert.Equal("local", d2s["locationInfo"]![0]!["location"]!.GetValue<string>());
        var capabilities = Capabilities(d2s);
        Assert.Equal("2", capabilities["vCPUs"]);
        Assert.Equal("8", capabilities["MemoryGB"]);
        Assert.Equal("4", capabilities["MaxDataDiskCount"]);
        Assert.Equal("16384", capabilities["MaxResourceVolumeMB"]);
        Assert.Equal("True", capabilities["PremiumIO"]);
        Assert.False(capabilities.ContainsKey("GPUs"));
        Assert.Equal("False", Capabilities(skus["Standard_D2_v3"])["PremiumIO"]);
        Assert.Equal("1", Capabilities(skus["Standard_B1s"])["MemoryGB"]);
        Assert.Equal("2", Capabilities(skus["Standard_NC12"])["GPUs"]);
    }

    [Fact]
    public async Task Skus_WithALocationFilter_ListOnlyThatLocation()
    {
        Assert.Equal(45, (await SkusAsync(SkusPath("&$filter=location%20eq%20'local'"))).Count);
        Assert.Empty(await SkusAsync(SkusPath("&$filter=location%20eq%20'westus'")));

        var (status, body) = await _server.SendAsync(HttpMethod.Get, SkusPath("&$filter=name%20eq%20'x'"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", body["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Skus_WithAnUnknownApiVersion_AreRefused()
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Get, $"subscriptions/{_server.Subscription}/providers/Microsoft.Compute/skus?api-version=2099-01-01");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(body["error"]!["code"]);
    }

    private async Task<Dictionary<string, JsonObject>> SkusAsync(string path)
    {
        var (status, body) = await _server.SendAsync(HttpMethod.Get, path);
        Assert.Equal(HttpStatusCode.OK, status);
        return body["value"]!.AsArray().Select(s => s!.AsObject()).ToDictionary(s => s["name"]!.GetValue<string>());
    }

    private async Task<List<string>> VmSizeNamesAsync()
    {
        var (_, body) = await _server.SendAsync(HttpMethod.Get, $"subscriptions/{_server.Subscription}/providers/Microsoft.Compute/locations/local/vmSizes?api-version=2023-07-01");
        return [.. body["value"]!.AsArray().Select(s => s!["name"]!.GetValue<string>())];
    }

    private static Dictionary<string, string> Capabilities(JsonObject sku) =>
        sku["capabilities"]!.AsArray().ToDictionary(c => c!["name"]!.GetValue<string>(), c => c!["value"]!.GetValue<string>());
}
