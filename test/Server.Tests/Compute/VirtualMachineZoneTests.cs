using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Inventory;

namespace Holdfast.Server.Tests.Compute;

/// <summary>
/// A VM's <c>zones</c>: one zone, kept on its instance so placement looks only at hosts of that zone;
/// <c>ZonalAllocationFailed</c> when none has room; malformed or changed zones refused in the request.
/// </summary>
public sealed class VirtualMachineZoneTests : IAsyncLifetime
{
    private ComputeTestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await ComputeTestServer.StartAsync(simulatedHosts: 2);
        await _server.CreateGroupAsync("rg");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Put_InAZoneNoHostIsIn_FailsWithZonalAllocationFailed()
    {
        // The simulated fleet's cluster has no zone.
        using var response = await _server.Admin.PutAsync(_server.VmPath("rg", "z"), ZonalBody("1"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        var vm = await _server.WaitTerminalAsync(_server.VmPath("rg", "z"));
        var (_, operation) = await _server.SendAsync(HttpMethod.Get, response.Headers.GetValues("Azure-AsyncOperation").Single());

        Assert.Equal("Failed", vm!["properties"]!["provisioningState"]!.GetValue<string>());
        Assert.Equal("ZonalAllocationFailed", operation["error"]!["code"]!.GetValue<string>());
        Assert.Equal(["1"], vm["zones"]!.AsArray().Select(z => z!.GetValue<string>()));
        Assert.Empty(await _server.InstancesAsync());
    }

    [Fact]
    public async Task Put_InAZone_IsPlacedOnlyOnAHostOfThatZone()
    {
        await _server.AddHostAsync("zone-one", new CapacityVector(16, 64 * 1024, 512, 0), zone: "1");

        using var response = await _server.Admin.PutAsync(_server.VmPath("rg", "z"), ZonalBody("1"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        var instance = await WaitForInstanceAsync();
        Assert.Equal("zone-one", instance.Host);
        Assert.Equal("1", instance.Zone);
    }

    [Theory]
    [InlineData("\"1\"")]
    [InlineData("[\"1\",\"2\"]")]
    [InlineData("[1]")]
    [InlineData("{}")]
    public async Task Put_WithMalformedZones_Is400AndWritesNothing(string zones)
    {
        var body = JsonNode.Parse(await ZonalBody("1").ReadAsStringAsync())!.AsObject();
        body["zones"] = JsonNode.Parse(zones);

        var (status, error) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "bad"), ComputeTestServer.Json(body.ToJsonString()));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", error["error"]!["code"]!.GetValue<string>());
        var (getStatus, _) = await _server.SendAsync(HttpMethod.Get, _server.VmPath("rg", "bad"));
        Assert.Equal(HttpStatusCode.NotFound, getStatus);
    }

    [Fact]
    public async Task Put_ChangingTheZone_IsRefused()
    {
        await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "plain"), ComputeTestServer.VmBody("Standard_D2s_v3"));
        await _server.WaitTerminalAsync(_server.VmPath("rg", "plain"));

        var (status, error) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "plain"), ZonalBody("2"));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("PropertyChangeNotAllowed", error["error"]!["code"]!.GetValue<string>());
    }

    private static StringContent ZonalBody(string zone)
    {
        var body = JsonNode.Parse(ComputeTestServer.VmBody("Standard_D2s_v3").ReadAsStringAsync().GetAwaiter().GetResult())!.AsObject();
        body["zones"] = new JsonArray(zone);
        return ComputeTestServer.Json(body.ToJsonString());
    }

    private async Task<Holdfast.Fabric.InstanceDocument> WaitForInstanceAsync()
    {
        while (true)
        {
            var instances = await _server.InstancesAsync();
            if (instances.Count > 0 && instances[0] is { Host: not null } instance)
            {
                return instance;
            }

            await Task.Delay(50, _server.Ct);
        }
    }
}
