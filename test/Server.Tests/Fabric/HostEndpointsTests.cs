using System.Net;
using System.Security.Cryptography;
using System.Text;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;

namespace Holdfast.Server.Tests.Fabric;

/// <summary>Hosts over the real server: create and update rules, live usage, join tokens, lifecycle actions, drain, delete.</summary>
public sealed class HostEndpointsTests(FabricServer server) : IClassFixture<FabricServer>
{
    private static readonly HttpMethod Put = HttpMethod.Put;
    private static readonly HttpMethod Get = HttpMethod.Get;
    private static readonly HttpMethod Post = HttpMethod.Post;
    private static readonly HttpMethod Delete = HttpMethod.Delete;

    [Fact]
    public async Task Put_NewHost_IsProvisioningWithItsPlaceInTheFleet()
    {
        var (site, cluster, rack) = await server.TopologyAsync(zone: "1");
        var name = FabricServer.Unique("Host");

        var (status, body) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/hosts/{name}", $"{{\"properties\":{{\"rack\":\"{rack}\",\"updateDomain\":3,\"capacity\":{{\"vCpus\":16,\"memoryMiB\":65536,\"diskGiB\":512,\"gpus\":0}},\"traits\":[\"ssd\",\"SSD\",\"gen5\"]}}}}");

        Assert.Equal(HttpStatusCode.Created, status);
        var p = body!["properties"]!;
        Assert.Equal(name.ToLowerInvariant(), body["name"]!.GetValue<string>());
        Assert.Equal("Holdfast.Fabric/hosts", body["type"]!.GetValue<string>());
        Assert.Equal((site, cluster, "1", rack, rack), (p["site"]!.GetValue<string>(), p["cluster"]!.GetValue<string>(), p["zone"]!.GetValue<string>(), p["rack"]!.GetValue<string>(), p["faultDomain"]!.GetValue<string>()));
        Assert.Equal("Provisioning", p["state"]!.GetValue<string>());
        Assert.Equal(3, p["updateDomain"]!.GetValue<int>());
        Assert.Equal(["ssd", "gen5"], p["traits"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.False(p["simulated"]!.GetValue<bool>());
        Assert.Null(p["agent"]);
        Assert.Equal(0, p["allocated"]!["vCpus"]!.GetValue<int>());
        Assert.Equal(512, p["free"]!["diskGiB"]!.GetValue<int>());
        var stored = FabricJson.Deserialize<HostDocument>((await server.GetAsync(FabricKeys.Host(name)))!.Value.Span);
        Assert.Equal(HostState.Provisioning, stored.State);
        Assert.Equal(new CapacityVector(16, 65536, 512, 0), stored.Capacity);
    }

    [Theory]
    [InlineData("{\"properties\":{\"capacity\":{\"vCpus\":4,\"memoryMiB\":1024}}}", "properties.rack")]
    [InlineData("{\"properties\":{\"rack\":\"RACK\",\"capacity\":{\"vCpus\":-1,\"memoryMiB\":1024}}}", "properties.capacity.vCpus")]
    [InlineData("{\"properties\":{\"rack\":\"RACK\",\"capacity\":{\"vCpus\":\"four\",\"memoryMiB\":1024}}}", "properties.capacity.vCpus")]
    [InlineData("{\"properties\":{\"rack\":\"RACK\",\"capacity\":{\"vCpus\":0,\"memoryMiB\":1024}}}", "properties.capacity")]
    [InlineData("{\"properties\":{\"rack\":\"RACK\",\"capacity\":{\"vCpus\":4,\"memoryMiB\":1024,\"cores\":2}}}", "properties.capacity.cores")]
    [InlineData("{\"properties\":{\"rack\":\"RACK\"}}", "properties.capacity")]
    [InlineData("{\"properties\":{\"rack\":\"RACK\",\"capacity\":{\"vCpus\":4,\"memoryMiB\":1024},\"traits\":[\"a b\"]}}", "properties.traits")]
    [InlineData("{\"properties\":{\"rack\":\"RACK\",\"capacity\":{\"vCpus\":4,\"memoryMiB\":1024},\"updateDomain\":-2}}", "properties.updateDomain")]
    public async Task Put_WithBadProperties_Is400NamingTheField(string template, string target)
    {
        var (_, _, rack) = await server.TopologyAsync();
        var name = FabricServer.Unique("host");

        var (status, body) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/hosts/{name}", template.Replace("RACK", rack, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(target, body!["error"]!["target"]!.GetValue<string>());
        Assert.Null(await server.GetAsync(FabricKeys.Host(name)));
    }

    [Fact]
    public async Task Put_InAMissingRack_IsRefused()
    {
        var (status, body) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/hosts/{FabricServer.Unique("host")}", "{\"properties\":{\"rack\":\"no-rack\",\"capacity\":{\"vCpus\":4,\"memoryMiB\":1024}}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("ParentResourceNotFound", FleetTopologyEndpointsTests.Code(body));
    }

    [Fact]
    public async Task Get_OfAnUnknownHost_Is404()
    {
        var (status, body) = await server.SendAsync(Get, "providers/Holdfast.Fabric/hosts/never-was");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("ResourceNotFound", FleetTopologyEndpointsTests.Code(body));
    }

    [Fact]
    public async Task List_FiltersByStateAndCluster_AndRejectsAnUnknownState()
    {
        var (_, cluster, rack) = await server.TopologyAsync();
        var serving = await server.HostAsync(rack);
        var provisioning = await server.HostAsync(rack, inService: false);

        var (_, inService) = await server.SendAsync(Get, $"providers/Holdfast.Fabric/hosts?state=inservice&cluster={cluster}");
        var (_, all) = await server.SendAsync(Get, $"providers/Holdfast.Fabric/hosts?cluster={cluster}");
        var (bad, error) = await server.SendAsync(Get, "providers/Holdfast.Fabric/hosts?state=Sideways");

        Assert.Equal([serving], inService!["value"]!.AsArray().Select(h => h!["name"]!.GetValue<string>()));
        Assert.Equal(new[] { serving, provisioning }.Order(), all!["value"]!.AsArray().Select(h => h!["name"]!.GetValue<string>()).Order());
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Equal("InvalidQueryParameterValue", FleetTopologyEndpointsTests.Code(error));
    }

    [Fact]
    public async Task CreateJoinToken_ReturnsTheSecretOnce_AndStoresOnlyItsSha256()
    {
        var (_, _, rack) = await server.TopologyAsync();
        var host = await server.HostAsync(rack, inService: false);

        var (status, body) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{host}/createJoinToken", "{\"validForMinutes\":30}");
        var (_, again) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{host}/createJoinToken");

        Assert.Equal(HttpStatusCode.OK, status);
        var secret = body!["joinToken"]!.GetValue<string>();
        var expires = DateTimeOffset.Parse(body["expiresOn"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expires - TimeProvider.System.GetUtcNow(), TimeSpan.FromMinutes(25), TimeSpan.FromMinutes(31));
        var second = again!["joinToken"]!.GetValue<string>();
        Assert.NotEqual(secret, second);
        var stored = await server.GetAsync(FabricKeys.JoinToken(host));
        var token = FabricJson.Deserialize<JoinTokenDocument>(stored!.Value.Span);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(second))), token.SecretSha256);
        var raw = Encoding.UTF8.GetString(stored.Value.Span);
        Assert.DoesNotContain(second, raw, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, raw, StringComparison.Ordinal);
        var (_, read) = await server.SendAsync(Get, $"providers/Holdfast.Fabric/hosts/{host}");
        Assert.DoesNotContain(second, read!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateJoinToken_ForAHostInService_IsRefused()
    {
        var (_, _, rack) = await server.TopologyAsync();
        var host = await server.HostAsync(rack);

        var (status, body) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{host}/createJoinToken");
        var (badStatus, _) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{FabricServer.Unique("x")}/createJoinToken", "{\"validForMinutes\":5000}");

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("OperationNotAllowed", FleetTopologyEndpointsTests.Code(body));
        Assert.Null(await server.GetAsync(FabricKeys.JoinToken(host)));
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
    }

    [Fact]
    public async Task Lifecycle_FollowsTheTransitionTable_AndRefusesWithItsSentence()
    {
        var (_, _, rack) = await server.TopologyAsync();
        var host = await server.HostAsync(rack, inService: false);

        var (early, refusal) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{host}/resume");
        Assert.Equal(HttpStatusCode.Conflict, early);
        Assert.Equal("OperationNotAllowed", FleetTopologyEndpointsTests.Code(refusal));
        Assert.Equal("A host in Provisioning must pass validation (Validating) before it returns to service.", refusal!["error"]!["message"]!.GetValue<string>());

        foreach (var (action, state) in new[] { ("validate", "Validating"), ("resume", "InService"), ("drain", "Draining"), ("enterMaintenance", "Maintenance"), ("validate", "Validating"), ("resume", "InService") })
        {
            var (status, body) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{host}/{action}");
            Assert.True(status == HttpStatusCode.OK, $"{action}: {body?.ToJsonString()}");
            Assert.Equal(state, body!["properties"]!["state"]!.GetValue<string>());
            Assert.Contains(action, body["properties"]!["stateReason"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        var (again, already) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{host}/resume");
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Equal("The host is already InService.", already!["error"]!["message"]!.GetValue<string>());
        Assert.Equal(HostState.InService, FabricJson.Deserialize<HostDocument>((await server.GetAsync(FabricKeys.Host(host)))!.Value.Span).State);
    }

    [Fact]
    public async Task Action_ThatDoesNotExist_Is404_AndOnAMissingHost404()
    {
        var (_, _, rack) = await server.TopologyAsync();
        var host = await server.HostAsync(rack, inService: false);

        var (unknown, body) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{host}/reboot");
        var (missing, _) = await server.SendAsync(Post, "providers/Holdfast.Fabric/hosts/no-such-host/drain");

        Assert.Equal(HttpStatusCode.NotFound, unknown);
        Assert.Contains("drain", body!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, missing);
    }

    [Fact]
    public async Task HostWithVms_RefusesMaintenanceDecommissionAndShapeChanges_SayingHowManyRemain()
    {
        var (_, cluster, rack) = await server.TopologyAsync();
        var host = await server.HostAsync(rack);
        await PlaceAsync("vm-" + FabricServer.Unique("a"), cluster);
        await PlaceAsync("vm-" + FabricServer.Unique("b"), cluster);
        var otherRack = (await server.TopologyAsync()).Rack;

        var (drained, _) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{host}/drain");
        var (maintenance, refusal) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{host}/enterMaintenance");
        var (decommission, _) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{host}/decommission");
        var (reshape, reshapeBody) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/hosts/{host}", $"{{\"properties\":{{\"rack\":\"{rack}\",\"capacity\":{{\"vCpus\":32,\"memoryMiB\":65536,\"diskGiB\":100}}}}}}");
        var (move, _) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/hosts/{host}", $"{{\"properties\":{{\"rack\":\"{otherRack}\",\"capacity\":{{\"vCpus\":16,\"memoryMiB\":65536,\"diskGiB\":100}}}}}}");
        var (same, _) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/hosts/{host}", $"{{\"properties\":{{\"rack\":\"{rack}\",\"capacity\":{{\"vCpus\":16,\"memoryMiB\":65536,\"diskGiB\":100}}}}}}");
        var (delete, _) = await server.SendAsync(Delete, $"providers/Holdfast.Fabric/hosts/{host}");

        Assert.Equal(HttpStatusCode.OK, drained);
        Assert.Equal((HttpStatusCode.Conflict, HttpStatusCode.Conflict, HttpStatusCode.Conflict, HttpStatusCode.Conflict), (maintenance, decommission, reshape, move));
        var message = refusal!["error"]!["message"]!.GetValue<string>();
        Assert.Contains("2 VM(s)", message, StringComparison.Ordinal);
        Assert.Contains("drain", message, StringComparison.Ordinal);
        Assert.Contains("2 VM(s)", reshapeBody!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, same);
        Assert.Equal(HttpStatusCode.Conflict, delete);
        Assert.Equal(HostState.Draining, FabricJson.Deserialize<HostDocument>((await server.GetAsync(FabricKeys.Host(host)))!.Value.Span).State);
    }

    [Fact]
    public async Task Drain_MovesEveryVmToOtherHosts_ThenTheHostMayEnterMaintenance()
    {
        var (_, cluster, rack) = await server.TopologyAsync();
        var draining = await server.HostAsync(rack);
        string[] vms = [.. Enumerable.Range(0, 3).Select(i => FabricServer.Unique($"vm{i}"))];
        foreach (var vm in vms)
        {
            Assert.Equal(draining, await PlaceAsync(vm, cluster));
        }

        var others = new[] { await server.HostAsync(rack), await server.HostAsync(rack) };
        var (status, body) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{draining}/drain");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3, body!["properties"]!["instances"]!.GetValue<int>());

        var moved = await server.Drain.DrainOnceAsync(server.Timeout);

        Assert.Equal(3, moved);
        foreach (var vm in vms)
        {
            var instance = FabricJson.Deserialize<InstanceDocument>((await server.GetAsync(FabricKeys.Instance(vm)))!.Value.Span);
            Assert.Contains(instance.Host, others);
            Assert.Equal(2, instance.Epoch);
        }

        var record = AllocationRecordCodec.Decode((await server.GetAsync(FabricKeys.Allocations(draining)))!.Value.Span, 1);
        Assert.Empty(record.Allocations);
        var (_, read) = await server.SendAsync(Get, $"providers/Holdfast.Fabric/hosts/{draining}");
        Assert.Equal(0, read!["properties"]!["allocated"]!["vCpus"]!.GetValue<int>());
        var (maintenance, after) = await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{draining}/enterMaintenance");
        Assert.True(maintenance == HttpStatusCode.OK, after?.ToJsonString());
        Assert.Equal("Maintenance", after!["properties"]!["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task Drain_WithNowhereToGo_LeavesVmsWhereTheyRun()
    {
        var (_, cluster, rack) = await server.TopologyAsync();
        var host = await server.HostAsync(rack);
        var vm = FabricServer.Unique("vm");
        Assert.Equal(host, await PlaceAsync(vm, cluster));
        Assert.Equal(HttpStatusCode.OK, (await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{host}/drain")).Status);

        await server.Drain.DrainOnceAsync(server.Timeout);

        Assert.Equal(host, FabricJson.Deserialize<InstanceDocument>((await server.GetAsync(FabricKeys.Instance(vm)))!.Value.Span).Host);
    }

    [Fact]
    public async Task Update_OfAnEmptyHost_ChangesItsShapeAndRack()
    {
        var (_, _, rack) = await server.TopologyAsync();
        var (_, cluster2, rack2) = await server.TopologyAsync(zone: "3");
        var host = await server.HostAsync(rack, inService: false);

        var (status, body) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/hosts/{host}", $"{{\"properties\":{{\"rack\":\"{rack2}\",\"updateDomain\":1,\"capacity\":{{\"vCpus\":8,\"memoryMiB\":4096}},\"traits\":[\"gpu\"]}}}}");

        Assert.Equal(HttpStatusCode.OK, status);
        var p = body!["properties"]!;
        Assert.Equal((rack2, cluster2, "3", 8, "Provisioning"), (p["rack"]!.GetValue<string>(), p["cluster"]!.GetValue<string>(), p["zone"]!.GetValue<string>(), p["capacity"]!["vCpus"]!.GetValue<int>(), p["state"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.OK, (await server.SendAsync(Delete, $"providers/Holdfast.Fabric/racks/{rack}")).Status);
    }

    [Fact]
    public async Task Delete_OfADecommissionedHost_RemovesItsRecordAndJoinToken_ButNotOfAHostInService()
    {
        var (_, _, rack) = await server.TopologyAsync();
        var serving = await server.HostAsync(rack);
        var retired = await server.HostAsync(rack, inService: false);
        Assert.Equal(HttpStatusCode.OK, (await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{retired}/createJoinToken")).Status);
        await server.Store.PutAsync(FabricKeys.Allocations(retired), AllocationRecordCodec.Encode(Holdfast.Capacity.Placement.HostAllocationRecord.Empty(retired)), null, server.Timeout);
        Assert.Equal(HttpStatusCode.OK, (await server.SendAsync(Post, $"providers/Holdfast.Fabric/hosts/{retired}/decommission")).Status);

        var (refused, body) = await server.SendAsync(Delete, $"providers/Holdfast.Fabric/hosts/{serving}");
        var (deleted, _) = await server.SendAsync(Delete, $"providers/Holdfast.Fabric/hosts/{retired}");

        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Equal("OperationNotAllowed", FleetTopologyEndpointsTests.Code(body));
        Assert.Equal(HttpStatusCode.OK, deleted);
        Assert.Null(await server.GetAsync(FabricKeys.Host(retired)));
        Assert.Null(await server.GetAsync(FabricKeys.Allocations(retired)));
        Assert.Null(await server.GetAsync(FabricKeys.JoinToken(retired)));
        Assert.NotNull(await server.GetAsync(FabricKeys.Host(serving)));
    }

    /// <summary>Places a 2-vCPU VM in <paramref name="cluster"/> through the server's placement service; returns its host.</summary>
    private async Task<string?> PlaceAsync(string id, string cluster)
    {
        var result = await server.Capacity.PlaceAsync(
            new InstanceDocument { Id = id, Demand = new CapacityVector(2, 4096, 0, 0), Cluster = cluster },
            [],
            [],
            request => server.Store.TxnAsync(request, server.Timeout),
            server.Timeout);
        Assert.True(result.Placed, result.Explanation?.Summary);
        return result.Host;
    }
}
