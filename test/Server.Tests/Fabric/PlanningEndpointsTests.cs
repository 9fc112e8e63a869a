using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Server.Fabric;
using Holdfast.State;

namespace Holdfast.Server.Tests.Fabric;

/// <summary>The planning views over the real server: utilization and stranding, what-if, explain, forecast answers and the sampler's retention.</summary>
public sealed class PlanningEndpointsTests(FabricServer server) : IClassFixture<FabricServer>
{
    private static readonly HttpMethod Get = HttpMethod.Get;
    private static readonly HttpMethod Post = HttpMethod.Post;

    [Fact]
    public async Task Utilization_ReportsTotalsAllocatedAndStrandedPerDimension()
    {
        var (_, cluster, rack) = await server.TopologyAsync();
        var small = await server.HostAsync(rack, vCpus: 2, memoryMiB: 8192);
        Assert.Equal(small, await PlaceAsync(FabricServer.Unique("vm"), cluster, new CapacityVector(2, 1024, 0, 0)));
        await server.HostAsync(rack, vCpus: 16, memoryMiB: 65536);
        await server.HostAsync(rack, inService: false);

        var (status, body) = await server.SendAsync(Get, "providers/Holdfast.Capacity/utilization");

        Assert.Equal(HttpStatusCode.OK, status);
        var entry = body!["value"]!.AsArray().Single(c => c!["cluster"]!.GetValue<string>() == cluster)!;
        Assert.Equal((3, 2), (entry["hosts"]!.GetValue<int>(), entry["inServiceHosts"]!.GetValue<int>()));
        var vCpus = Dimension(entry, "vCpus");
        Assert.Equal((18L, 2L, 16L, 0L), (vCpus["total"]!.GetValue<long>(), vCpus["allocated"]!.GetValue<long>(), vCpus["free"]!.GetValue<long>(), vCpus["stranded"]!.GetValue<long>()));
        Assert.Equal(11.11, vCpus["utilizationPercent"]!.GetValue<double>());
        // The small host has no vCPU left: its 7 GiB of memory and 100 GiB of disk can never be sold.
        var memory = Dimension(entry, "memoryMiB");
        Assert.Equal((73728L, 1024L, 7168L), (memory["total"]!.GetValue<long>(), memory["allocated"]!.GetValue<long>(), memory["stranded"]!.GetValue<long>()));
        Assert.Equal(100L, Dimension(entry, "diskGiB")["stranded"]!.GetValue<long>());
    }

    [Fact]
    public async Task Utilization_OfAClusterOfHugeHosts_DoesNotOverflow()
    {
        var (_, cluster, rack) = await server.TopologyAsync();
        for (var i = 0; i < 3; i++)
        {
            await server.HostAsync(rack, vCpus: 16384, memoryMiB: 1 << 30);
        }

        var (_, body) = await server.SendAsync(Get, "providers/Holdfast.Capacity/utilization");

        var entry = body!["value"]!.AsArray().Single(c => c!["cluster"]!.GetValue<string>() == cluster)!;
        Assert.Equal(3L << 30, Dimension(entry, "memoryMiB")["total"]!.GetValue<long>());
        Assert.Equal(3L << 30, Dimension(entry, "memoryMiB")["free"]!.GetValue<long>());
    }

    [Fact]
    public async Task WhatIf_SaysHowManyFitAndWhere_AndCommitsNothing()
    {
        var (_, cluster, rack) = await server.TopologyAsync();
        var hosts = new[] { await server.HostAsync(rack, vCpus: 8), await server.HostAsync(rack, vCpus: 8) };
        var before = await FabricStateAsync();

        var (status, body) = await server.SendAsync(Post, "providers/Holdfast.Capacity/whatIf", $"{{\"size\":\"Standard_D2s_v3\",\"demand\":{{\"vCpus\":2,\"memoryMiB\":8192}},\"count\":10,\"cluster\":\"{cluster}\"}}");
        var (_, again) = await server.SendAsync(Post, "providers/Holdfast.Capacity/whatIf", $"{{\"demand\":{{\"vCpus\":2,\"memoryMiB\":8192}},\"count\":10,\"cluster\":\"{cluster}\"}}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((10, 8), (body!["requested"]!.GetValue<int>(), body["placeable"]!.GetValue<int>()));
        var placements = body["placements"]!.AsArray();
        Assert.Equal(8, placements.Sum(p => p!["count"]!.GetValue<int>()));
        Assert.All(placements, p => Assert.Contains(p!["host"]!.GetValue<string>(), hosts));
        Assert.Equal("Standard_D2s_v3", body["size"]!.GetValue<string>());
        Assert.True(body["explanation"]!["rejectedBy"]!["Capacity"]!.GetValue<int>() >= 2);
        Assert.Equal(8, again!["placeable"]!.GetValue<int>());
        Assert.Equal(before, await FabricStateAsync());
        Assert.All(hosts, h => Assert.Empty(server.Capacity.FindHost(h)!.Value.Allocations.Allocations));
    }

    [Theory]
    [InlineData("{\"count\":1}", "demand")]
    [InlineData("{\"demand\":{\"vCpus\":2},\"count\":0}", "count")]
    [InlineData("{\"demand\":{\"vCpus\":2}}", "count")]
    [InlineData("{\"demand\":{},\"count\":1}", "demand")]
    [InlineData("{\"demand\":{\"vCpus\":2},\"count\":1,\"requiredTraits\":\"gpu\"}", "requiredTraits")]
    public async Task WhatIf_WithABadBody_Is400NamingTheField(string json, string target)
    {
        var (status, body) = await server.SendAsync(Post, "providers/Holdfast.Capacity/whatIf", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(target, body!["error"]!["target"]!.GetValue<string>());
    }

    [Fact]
    public async Task Explain_SaysWhichFilterRejectedHowManyHosts()
    {
        var (_, cluster, rack) = await server.TopologyAsync();
        await server.HostAsync(rack, vCpus: 4);
        await server.HostAsync(rack, vCpus: 64, traits: "[\"gpu\"]");
        await server.HostAsync(rack, inService: false);

        var (status, body) = await server.SendAsync(Post, "providers/Holdfast.Capacity/explain", $"{{\"demand\":{{\"vCpus\":8,\"memoryMiB\":1024}},\"cluster\":\"{cluster}\",\"requiredTraits\":[\"ssd\"]}}");
        var (_, fits) = await server.SendAsync(Post, "providers/Holdfast.Capacity/explain", $"{{\"demand\":{{\"vCpus\":8,\"memoryMiB\":1024}},\"cluster\":\"{cluster}\"}}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, body!["candidates"]!.GetValue<int>());
        Assert.Equal(2, body["rejectedBy"]!["Traits"]!.GetValue<int>());
        Assert.True(body["rejectedBy"]!["State"]!.GetValue<int>() >= 1);
        Assert.StartsWith("0 of ", body["summary"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(1, fits!["candidates"]!.GetValue<int>());
        Assert.Equal(1, fits["rejectedBy"]!["Capacity"]!.GetValue<int>());
    }

    [Fact]
    public async Task Forecast_WithoutHistory_SaysSoInAField()
    {
        var (_, cluster, rack) = await server.TopologyAsync();
        await server.HostAsync(rack);

        var (status, body) = await server.SendAsync(Get, $"providers/Holdfast.Capacity/forecast?cluster={cluster}");

        Assert.Equal(HttpStatusCode.OK, status);
        var entry = body!["value"]!.AsArray().Single()!;
        Assert.Equal(cluster, entry["cluster"]!.GetValue<string>());
        Assert.Equal(0, entry["samples"]!.GetValue<int>());
        Assert.Null(entry["method"]);
        Assert.Null(entry["daysUntilFull"]);
        Assert.Contains("at least 2 days", entry["insufficientHistory"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(16L, entry["capacity"]!["vCpus"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("forecast?horizonDays=0", HttpStatusCode.BadRequest)]
    [InlineData("forecast?horizonDays=abc", HttpStatusCode.BadRequest)]
    [InlineData("forecast?cluster=no-such-cluster", HttpStatusCode.NotFound)]
    public async Task Forecast_WithBadQuery_IsRefused(string path, HttpStatusCode expected)
    {
        var (status, body) = await server.SendAsync(Get, "providers/Holdfast.Capacity/" + path);

        Assert.Equal(expected, status);
        Assert.NotNull(body!["error"]!["code"]);
    }

    [Fact]
    public async Task Sampler_DeletesSamplesOlderThanItsRetention()
    {
        var now = TimeProvider.System.GetUtcNow();
        var expired = FabricKeys.UsageSample(now - UsageSampler.Retention - TimeSpan.FromDays(1));
        var kept = FabricKeys.UsageSample(now - UsageSampler.Retention + TimeSpan.FromDays(1));
        foreach (var key in new[] { expired, kept })
        {
            await server.Store.PutAsync(key, FabricJson.Serialize(new UsageSampleDocument(now, new Dictionary<string, ClusterUsage>())), null, server.Timeout);
        }

        var written = await server.Sampler.SampleAsync(server.Timeout);

        Assert.Null(await server.GetAsync(expired));
        Assert.NotNull(await server.GetAsync(kept));
        Assert.NotNull(await server.GetAsync(written));
    }

    private static JsonNode Dimension(JsonNode cluster, string name) =>
        cluster["dimensions"]!.AsArray().Single(d => d!["name"]!.GetValue<string>() == name)!;

    /// <summary>Every fabric key with its mod revision: what a write anywhere in the fleet would change.</summary>
    private async Task<string> FabricStateAsync()
    {
        var page = await server.Store.RangeAsync(new RangeRequest(FabricKeys.Prefix), server.Timeout);
        return string.Join('\n', page.Items.Where(kv => !kv.Key.StartsWith(FabricKeys.UsageHistoryPrefix, StringComparison.Ordinal)).Select(kv => $"{kv.Key}@{kv.ModRevision}"));
    }

    private async Task<string?> PlaceAsync(string id, string cluster, CapacityVector demand)
    {
        var result = await server.Capacity.PlaceAsync(new InstanceDocument { Id = id, Demand = demand, Cluster = cluster }, [], [], request => server.Store.TxnAsync(request, server.Timeout), server.Timeout);
        Assert.True(result.Placed, result.Explanation?.Summary);
        return result.Host;
    }
}
