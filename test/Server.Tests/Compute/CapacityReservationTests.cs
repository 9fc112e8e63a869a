using System.Net;
using Holdfast.Capacity.Inventory;

namespace Holdfast.Server.Tests.Compute;

/// <summary>
/// Capacity reservations as Azure models them: a reservation holds capacity for its size and count, all or nothing;
/// only VMs that reference its group may use it; deleting it gives the capacity back.
/// </summary>
public sealed class CapacityReservationTests : IAsyncLifetime
{
    private const string Sim = ComputeTestServer.SimHost;
    private ComputeTestServer _server = null!;

    private string GroupId => $"/subscriptions/{_server.Subscription}/resourceGroups/rg/providers/Microsoft.Compute/capacityReservationGroups/crg";

    public async Task InitializeAsync()
    {
        // One simulated host: 32 vCPUs, 128 GiB, 1024 GiB disk.
        _server = await ComputeTestServer.StartAsync(simulatedHosts: 1);
        await _server.CreateGroupAsync("rg");
        var (status, _) = await _server.SendAsync(HttpMethod.Put, GroupId[1..] + "?api-version=2023-07-01", ComputeTestServer.Json("""{"location":"local"}"""));
        Assert.Equal(HttpStatusCode.Created, status);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Reservation_HoldsCapacity_UsableOnlyByVmsReferencingItsGroup()
    {
        Assert.Equal("Succeeded", await ReserveAsync("r1", "Standard_D8s_v3", 2));
        Assert.Equal(new CapacityVector(16, 64 * 1024, 128, 0), (await _server.RecordAsync(Sim)).UnusedReserved);

        Assert.Equal("Succeeded", await CreateVmAsync("plain", "Standard_D16s_v3"));
        Assert.Equal("Failed", await CreateVmAsync("plain-2", "Standard_B2s"));
        Assert.Equal("Succeeded", await CreateVmAsync("reserved-1", "Standard_D8s_v3", GroupId));
        Assert.Equal("Succeeded", await CreateVmAsync("reserved-2", "Standard_D8s_v3", GroupId));

        var record = await _server.RecordAsync(Sim);
        Assert.Equal(32, record.Used.VCpus);
        Assert.Equal(2, record.Allocations.Count(a => a.ReservationId is not null));
        Assert.True(record.FitsWithin(ComputeTestServer.SimShape));
    }

    [Fact]
    public async Task Reservation_LargerThanTheFleet_FailsAndHoldsNothing()
    {
        Assert.Equal("Failed", await ReserveAsync("big", "Standard_D8s_v3", 5));

        Assert.Empty((await _server.RecordAsync(Sim)).Reservations);
        Assert.Equal("Succeeded", await CreateVmAsync("plain", "Standard_D32s_v3"));
    }

    [Fact]
    public async Task DeletingAReservation_GivesItsCapacityBack()
    {
        Assert.Equal("Succeeded", await ReserveAsync("r1", "Standard_D8s_v3", 4));
        Assert.Equal("Failed", await CreateVmAsync("plain", "Standard_B1s"));

        var path = GroupId[1..] + "/capacityReservations/r1?api-version=2023-07-01";
        Assert.Equal(HttpStatusCode.Accepted, (await _server.SendAsync(HttpMethod.Delete, path)).Status);
        await _server.WaitGoneAsync(path);

        Assert.Empty((await _server.RecordAsync(Sim)).Reservations);
        Assert.Equal("Succeeded", await CreateVmAsync("plain-2", "Standard_D32s_v3"));
    }

    [Fact]
    public async Task Vm_ReferencingAGroupWithoutItsSize_IsRefused()
    {
        Assert.Equal("Succeeded", await ReserveAsync("r1", "Standard_D2s_v3", 1));

        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "vm"), ComputeTestServer.VmBody("Standard_B1s", GroupId));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", body["error"]!["code"]!.GetValue<string>());
        Assert.Equal(0, (await _server.UsagesAsync())["virtualMachines"].Current);
    }

    [Fact]
    public async Task Vm_InAReservationGroup_CannotBeResized()
    {
        Assert.Equal("Succeeded", await ReserveAsync("r1", "Standard_D8s_v3", 1));
        Assert.Equal("Succeeded", await CreateVmAsync("reserved", "Standard_D8s_v3", GroupId));

        var (status, body) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", "reserved"), ComputeTestServer.VmBody("Standard_D4s_v3", GroupId));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("PropertyChangeNotAllowed", body["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Group_WithReservations_CannotBeDeleted()
    {
        Assert.Equal("Succeeded", await ReserveAsync("r1", "Standard_D2s_v3", 1));

        var (status, body) = await _server.SendAsync(HttpMethod.Delete, GroupId[1..] + "?api-version=2023-07-01");

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("OperationNotAllowed", body["error"]!["code"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"location":"local"}""", "sku.name")]
    [InlineData("""{"location":"local","sku":{"name":"Standard_Nope","capacity":1}}""", "sku.name")]
    [InlineData("""{"location":"local","sku":{"name":"Standard_D2s_v3"}}""", "sku.capacity")]
    [InlineData("""{"location":"local","sku":{"name":"Standard_D2s_v3","capacity":-1}}""", "sku.capacity")]
    [InlineData("""{"location":"local","sku":{"name":"Standard_D2s_v3","capacity":1.5}}""", "sku.capacity")]
    public async Task Reservation_BadSku_Is400AndWritesNothing(string json, string target)
    {
        var path = GroupId[1..] + "/capacityReservations/bad?api-version=2023-07-01";

        var (status, body) = await _server.SendAsync(HttpMethod.Put, path, ComputeTestServer.Json(json));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(target, body["error"]!["target"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await _server.SendAsync(HttpMethod.Get, path)).Status);
    }

    private async Task<string> ReserveAsync(string name, string size, int count)
    {
        var path = GroupId[1..] + $"/capacityReservations/{name}?api-version=2023-07-01";
        var (status, _) = await _server.SendAsync(HttpMethod.Put, path, ComputeTestServer.Json("{\"location\":\"local\",\"sku\":{\"name\":\"" + size + "\",\"capacity\":" + count + "}}"));
        Assert.Equal(HttpStatusCode.Created, status);
        return (await _server.WaitTerminalAsync(path))!["properties"]!["provisioningState"]!.GetValue<string>();
    }

    private async Task<string> CreateVmAsync(string name, string size, string? reservationGroupId = null)
    {
        var (status, _) = await _server.SendAsync(HttpMethod.Put, _server.VmPath("rg", name), ComputeTestServer.VmBody(size, reservationGroupId));
        Assert.Equal(HttpStatusCode.Created, status);
        return (await _server.WaitTerminalAsync(_server.VmPath("rg", name)))!["properties"]!["provisioningState"]!.GetValue<string>();
    }
}
