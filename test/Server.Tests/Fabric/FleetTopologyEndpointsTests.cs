using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Fabric;

namespace Holdfast.Server.Tests.Fabric;

/// <summary>Sites, clusters and racks over the real server: round trips, parent references, delete refusals, bad input, RBAC.</summary>
public sealed class FleetTopologyEndpointsTests(FabricServer server) : IClassFixture<FabricServer>
{
    private static readonly HttpMethod Put = HttpMethod.Put;
    private static readonly HttpMethod Get = HttpMethod.Get;
    private static readonly HttpMethod Delete = HttpMethod.Delete;

    [Fact]
    public async Task Site_PutGetListDelete_RoundTrips()
    {
        var site = FabricServer.Unique("Site").ToUpperInvariant();

        var (created, body) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/sites/{site}", "{\"properties\":{\"displayName\":\"North hall\"}}");
        var (updated, _) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/sites/{site}", "{\"properties\":{\"displayName\":\"South hall\"}}");
        var (got, read) = await server.SendAsync(Get, $"providers/Holdfast.Fabric/sites/{site.ToLowerInvariant()}");
        var (listed, list) = await server.SendAsync(Get, "providers/Holdfast.Fabric/sites");

        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK), (created, updated, got, listed));
        var name = site.ToLowerInvariant();
        Assert.Equal($"/providers/Holdfast.Fabric/sites/{name}", body!["id"]!.GetValue<string>());
        Assert.Equal(name, body["name"]!.GetValue<string>());
        Assert.Equal("Holdfast.Fabric/sites", body["type"]!.GetValue<string>());
        Assert.Equal("South hall", read!["properties"]!["displayName"]!.GetValue<string>());
        Assert.Contains(list!["value"]!.AsArray(), s => s!["name"]!.GetValue<string>() == name);

        Assert.Equal(HttpStatusCode.OK, (await server.SendAsync(Delete, $"providers/Holdfast.Fabric/sites/{site}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await server.SendAsync(Get, $"providers/Holdfast.Fabric/sites/{site}")).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await server.SendAsync(Delete, $"providers/Holdfast.Fabric/sites/{site}")).Status);
    }

    [Fact]
    public async Task ClusterAndRack_NameTheirParents_AndAreListed()
    {
        var (site, cluster, rack) = await server.TopologyAsync(zone: "2");

        var (_, clusterBody) = await server.SendAsync(Get, $"providers/Holdfast.Fabric/clusters/{cluster}");
        var (_, rackBody) = await server.SendAsync(Get, $"providers/Holdfast.Fabric/racks/{rack}");
        var (_, racks) = await server.SendAsync(Get, "providers/Holdfast.Fabric/racks");

        Assert.Equal(site, clusterBody!["properties"]!["site"]!.GetValue<string>());
        Assert.Equal("2", clusterBody["properties"]!["zone"]!.GetValue<string>());
        Assert.Equal(cluster, rackBody!["properties"]!["cluster"]!.GetValue<string>());
        Assert.Contains(racks!["value"]!.AsArray(), r => r!["name"]!.GetValue<string>() == rack);
    }

    [Fact]
    public async Task Cluster_WhoseSiteDoesNotExist_IsRefusedAndNothingWritten()
    {
        var cluster = FabricServer.Unique("cl");

        var (status, body) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/clusters/{cluster}", "{\"properties\":{\"site\":\"no-such-site\"}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("ParentResourceNotFound", body!["error"]!["code"]!.GetValue<string>());
        Assert.Null(await server.GetAsync(FabricKeys.Cluster(cluster)));
    }

    [Fact]
    public async Task Rack_WhoseClusterDoesNotExist_IsRefused()
    {
        var (status, body) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/racks/{FabricServer.Unique("rack")}", "{\"properties\":{\"cluster\":\"no-such-cluster\"}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("ParentResourceNotFound", body!["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Delete_OfAParentWithChildren_IsRefusedWith409()
    {
        var (site, cluster, rack) = await server.TopologyAsync();
        await server.HostAsync(rack, inService: false);

        var siteDelete = await server.SendAsync(Delete, $"providers/Holdfast.Fabric/sites/{site}");
        var clusterDelete = await server.SendAsync(Delete, $"providers/Holdfast.Fabric/clusters/{cluster}");
        var rackDelete = await server.SendAsync(Delete, $"providers/Holdfast.Fabric/racks/{rack}");

        foreach (var (status, body) in new[] { siteDelete, clusterDelete, rackDelete })
        {
            Assert.Equal(HttpStatusCode.Conflict, status);
            Assert.Equal("OperationNotAllowed", body!["error"]!["code"]!.GetValue<string>());
        }

        Assert.Contains("1 clusters", siteDelete.Body!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("1 hosts", rackDelete.Body!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotNull(await server.GetAsync(FabricKeys.Site(site)));
    }

    [Fact]
    public async Task Delete_BottomUp_Succeeds()
    {
        var (site, cluster, rack) = await server.TopologyAsync();
        var host = await server.HostAsync(rack, inService: false);

        foreach (var path in new[] { $"hosts/{host}", $"racks/{rack}", $"clusters/{cluster}", $"sites/{site}" })
        {
            Assert.Equal(HttpStatusCode.OK, (await server.SendAsync(Delete, "providers/Holdfast.Fabric/" + path)).Status);
        }

        Assert.Null(await server.GetAsync(FabricKeys.Site(site)));
    }

    [Fact]
    public async Task CreatingAChild_MovesTheParentsRevision_SoAConcurrentParentDeleteFailsItsCompare()
    {
        var (site, _, _) = await server.TopologyAsync();
        var before = (await server.GetAsync(FabricKeys.Site(site)))!.ModRevision;

        Assert.Equal(HttpStatusCode.Created, (await server.SendAsync(Put, $"providers/Holdfast.Fabric/clusters/{FabricServer.Unique("cl")}", $"{{\"properties\":{{\"site\":\"{site}\"}}}}")).Status);

        Assert.True((await server.GetAsync(FabricKeys.Site(site)))!.ModRevision > before);
    }

    [Fact]
    public async Task Cluster_MovedToAnotherSiteWhileItHasRacks_IsRefused()
    {
        var (_, cluster, _) = await server.TopologyAsync();
        var other = FabricServer.Unique("site");
        Assert.Equal(HttpStatusCode.Created, (await server.SendAsync(Put, $"providers/Holdfast.Fabric/sites/{other}", "{\"properties\":{}}")).Status);

        var (status, body) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/clusters/{cluster}", $"{{\"properties\":{{\"site\":\"{other}\"}}}}");

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("OperationNotAllowed", body!["error"]!["code"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("sites", "bad_name")]
    [InlineData("clusters", "-leading")]
    [InlineData("racks", "has.dot")]
    [InlineData("hosts", "x234567890123456789012345678901234567890123456789012345678901234")]
    public async Task Put_WithABadName_IsInvalidResourceName(string type, string name)
    {
        var (status, body) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/{type}/{name}", "{\"properties\":{}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidResourceName", body!["error"]!["code"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("{\"properties\":\"x\"}")]
    [InlineData("{\"properties\":{\"displayName\":5}}")]
    [InlineData("{}")]
    public async Task Put_WithBadJson_Is400WithTheEnvelope(string json)
    {
        var site = FabricServer.Unique("site");

        var (status, body) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/sites/{site}", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(body!["error"]!["code"]);
        Assert.Null(await server.GetAsync(FabricKeys.Site(site)));
    }

    [Fact]
    public async Task Request_WithAWrongOrMissingApiVersion_Is400()
    {
        var wrong = await FabricServer.SendAsync(server.Admin, Get, "providers/Holdfast.Fabric/sites", apiVersion: "2022-09-01");
        var missing = await FabricServer.SendAsync(server.Admin, Get, "providers/Holdfast.Fabric/sites", apiVersion: string.Empty);

        Assert.Equal(HttpStatusCode.BadRequest, wrong.Status);
        Assert.Equal("InvalidApiVersionParameter", wrong.Body!["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, missing.Status);
        Assert.Equal("MissingApiVersionParameter", missing.Body!["error"]!["code"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("PUT", "providers/Holdfast.Fabric/sites/nobody-site")]
    [InlineData("GET", "providers/Holdfast.Fabric/sites")]
    [InlineData("DELETE", "providers/Holdfast.Fabric/racks/r1")]
    [InlineData("POST", "providers/Holdfast.Fabric/hosts/h1/drain")]
    [InlineData("GET", "providers/Holdfast.Capacity/utilization")]
    [InlineData("POST", "providers/Holdfast.Capacity/whatIf")]
    public async Task Request_ByACallerWithoutAnOperatorRole_Is403(string method, string path)
    {
        var (status, body) = await FabricServer.SendAsync(server.Nobody, new HttpMethod(method), path, method is "PUT" or "POST" ? "{\"properties\":{}}" : null);

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("AuthorizationFailed", body!["error"]!["code"]!.GetValue<string>());
        Assert.Null(await server.GetAsync(FabricKeys.Site("nobody-site")));
    }

    [Fact]
    public async Task List_PagesWithTop()
    {
        for (var i = 0; i < 3; i++)
        {
            await server.TopologyAsync();
        }

        var (status, body) = await server.SendAsync(Get, "providers/Holdfast.Fabric/clusters?$top=2");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, body!["value"]!.AsArray().Count);
        Assert.NotNull(body["nextLink"]);
    }

    [Fact]
    public async Task Site_WithDisplayNameTooLong_ReportsTheField()
    {
        var (status, body) = await server.SendAsync(Put, $"providers/Holdfast.Fabric/sites/{FabricServer.Unique("site")}", $"{{\"properties\":{{\"displayName\":\"{new string('d', 257)}\"}}}}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("properties.displayName", body!["error"]!["target"]!.GetValue<string>());
    }

    internal static string Code(JsonNode? body) => body!["error"]!["code"]!.GetValue<string>();
}
