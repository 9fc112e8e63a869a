using System.Net;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Server.Fabric;

namespace Holdfast.Server.Tests.Fabric;

/// <summary>
/// The usage sampler's samples feed the forecast: three weeks of history with a steady climb, then a sample the
/// sampler takes of the live fleet, and the forecast finds when the cluster runs out. A server of its own, so no other
/// test's samples or reads interleave with the history it writes.
/// </summary>
public sealed class UsageForecastTests
{
    [Fact]
    public async Task Forecast_FromSampledHistory_FindsWhenTheClusterRunsOut()
    {
        var server = new FabricServer();
        await server.InitializeAsync();
        try
        {
            var (_, cluster, rack) = await server.TopologyAsync();
            await server.HostAsync(rack, vCpus: 32, memoryMiB: 131072);
            await server.HostAsync(rack, vCpus: 32, memoryMiB: 131072);
            for (var i = 0; i < 25; i++)
            {
                var placed = await server.Capacity.PlaceAsync(
                    new InstanceDocument { Id = FabricServer.Unique("vm"), Demand = new CapacityVector(2, 4096, 0, 0), Cluster = cluster },
                    [],
                    [],
                    request => server.Store.TxnAsync(request, server.Timeout),
                    server.Timeout);
                Assert.True(placed.Placed);
            }

            // 20 past days climbing 2 vCPUs a day (10 … 48); today the fleet itself holds 50 of 64.
            var now = TimeProvider.System.GetUtcNow();
            for (var daysAgo = 20; daysAgo >= 1; daysAgo--)
            {
                long vCpus = 10 + (2 * (20 - daysAgo));
                var usage = new ClusterUsage(new LongVector(vCpus, vCpus * 2048, 0, 0), new LongVector(64, 262144, 200, 0), 2, 2);
                var at = now.AddDays(-daysAgo);
                await server.Store.PutAsync(FabricKeys.UsageSample(at), FabricJson.Serialize(new UsageSampleDocument(at, new Dictionary<string, ClusterUsage> { [cluster] = usage })), null, server.Timeout);
            }

            var key = await server.Sampler.SampleAsync(server.Timeout);
            var (status, body) = await server.SendAsync(HttpMethod.Get, $"providers/Holdfast.Capacity/forecast?cluster={cluster}&horizonDays=60");

            var sample = FabricJson.Deserialize<UsageSampleDocument>((await server.GetAsync(key))!.Value.Span);
            Assert.Equal(new LongVector(50, 25 * 4096, 0, 0), sample.Clusters[cluster].Allocated);
            Assert.Equal(new LongVector(64, 262144, 200, 0), sample.Clusters[cluster].Total);
            Assert.Equal(HttpStatusCode.OK, status);
            var entry = body!["value"]!.AsArray().Single()!;
            Assert.Equal(21, entry["samples"]!.GetValue<int>());
            Assert.Equal(21, entry["historyDays"]!.GetValue<int>());
            Assert.Equal(50L, entry["dailyPeaks"]!.AsArray()[^1]!["allocated"]!["vCpus"]!.GetValue<long>());
            Assert.StartsWith("Holt-Winters", entry["method"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Null(entry["insufficientHistory"]);
            Assert.Equal("vCpus", entry["limitingDimension"]!.GetValue<string>());
            var vCpuDays = entry["dimensions"]!.AsArray().Single(d => d!["name"]!.GetValue<string>() == "vCpus")!["daysUntilFull"]!.GetValue<int>();
            Assert.InRange(vCpuDays, 5, 10);
            Assert.Equal(vCpuDays, entry["daysUntilFull"]!.GetValue<int>());
            Assert.Equal(60, entry["dimensions"]!.AsArray()[0]!["forecastPeaks"]!.AsArray().Count);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
