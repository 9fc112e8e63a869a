using System.Diagnostics;
using System.Text.Json.Nodes;
using Holdfast.Server.HaTests.Infrastructure;
using Holdfast.Server.HaTests.Workload;
using Xunit.Abstractions;

namespace Holdfast.Server.HaTests;

/// <summary>
/// Faults in the store under continuous API writes: a real 3-member etcd cluster, one real server replica on
/// <c>--store etcd://a,b,c</c>, and a register workload of several clients. After each fault: every acknowledged
/// create reads back, writes were acknowledged both before and after the fault, and the recorded history is
/// linearizable. Bounded (every wait has a deadline) and everything is killed at the end.
/// </summary>
[Collection(HaCollection.Name)]
public sealed class EtcdFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Down = TimeSpan.FromSeconds(4);

    [Fact]
    public Task Writes_EtcdLeaderKilled9AndRestarted_NothingLostAndLinearizable() =>
        RunUnderLoadAsync(async cluster =>
        {
            var leader = await cluster.FindEtcdLeaderAsync();
            output.WriteLine($"kill -9 etcd leader {leader}");
            leader.Kill();
            await Task.Delay(Down);
            await leader.StartAsync();
        });

    [Fact]
    public Task Writes_OneEtcdFollowerStoppedAndRestarted_NothingLostAndLinearizable() =>
        RunUnderLoadAsync(async cluster =>
        {
            var leader = await cluster.FindEtcdLeaderAsync();
            var follower = cluster.Members.First(m => m != leader);
            output.WriteLine($"stop etcd follower {follower}");
            follower.Kill();
            await Task.Delay(Down);
            await follower.StartAsync();
        });

    [Fact]
    public Task Writes_EveryEtcdMemberAndServerRestarted_NothingLostAndLinearizable() =>
        RunUnderLoadAsync(async cluster =>
        {
            output.WriteLine("kill -9 the server and every etcd member");
            cluster.Server.Kill();
            foreach (var member in cluster.Members)
            {
                member.Kill();
            }

            await Task.Delay(TimeSpan.FromSeconds(1));

            // Together: one member alone has no quorum and would never answer its readiness probe.
            await Task.WhenAll(cluster.Members.Select(m => m.StartAsync()));
            await cluster.Server.StartAsync();
        });

    private async Task RunUnderLoadAsync(Func<HaCluster, Task> fault)
    {
        await using var cluster = await HaCluster.StartAsync();
        using var http = await cluster.SignedInClientAsync();
        var workload = new RegisterWorkload(http, cluster.Server.Credentials.SubscriptionId);
        await workload.InitializeAsync();
        await UnderLoad.RunAndCheckAsync(workload, () => fault(cluster), output);
        await AssertEachVmPlacedOnceAsync(cluster, workload);
    }

    /// <summary>
    /// No instance on two hosts (or twice on one) in the stored allocation records, and every acknowledged VM has
    /// exactly one instance, placed on exactly one host, once placement has caught up (bounded).
    /// </summary>
    private async Task AssertEachVmPlacedOnceAsync(HaCluster cluster, RegisterWorkload workload)
    {
        Assert.NotEmpty(workload.AcknowledgedVms);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var hostsOf = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var (_, value) in await cluster.ReadStoreAsync("/fabric/allocations/"))
            {
                var record = JsonNode.Parse(value)!;
                foreach (var allocation in record["allocations"]!.AsArray())
                {
                    string id = allocation!["id"]!.GetValue<string>();
                    hostsOf.TryAdd(id, []);
                    hostsOf[id].Add(record["host"]!.GetValue<string>());
                }
            }

            var instancesOf = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var (_, value) in await cluster.ReadStoreAsync("/fabric/instances/"))
            {
                var instance = JsonNode.Parse(value)!;
                if (instance["resourceId"]?.GetValue<string>() is { } resourceId)
                {
                    instancesOf.TryAdd(resourceId, []);
                    instancesOf[resourceId].Add(instance["id"]!.GetValue<string>());
                }
            }

            var twice = hostsOf.Where(p => p.Value.Count > 1).Select(p => $"{p.Key} on {string.Join(", ", p.Value)}").ToList();
            Assert.True(twice.Count == 0, "Placed more than once: " + string.Join("; ", twice));
            var wrong = new List<string>();
            foreach (string vm in workload.AcknowledgedVms)
            {
                string resourceId = "/" + workload.VmUri(vm).OriginalString.Split('?')[0];
                var instances = instancesOf.GetValueOrDefault(resourceId) ?? [];
                if (instances.Count != 1 || hostsOf.GetValueOrDefault(instances[0])?.Count != 1)
                {
                    wrong.Add($"{vm}: instances [{string.Join(", ", instances)}], hosts [{string.Join(", ", instances.SelectMany(i => hostsOf.GetValueOrDefault(i) ?? []))}]");
                }
            }

            if (wrong.Count == 0)
            {
                output.WriteLine($"{workload.AcknowledgedVms.Count} acknowledged VMs, each placed exactly once; {hostsOf.Count} allocations in the store");
                return;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(45), $"Acknowledged VMs not placed exactly once after 45 s: {string.Join("; ", wrong.Take(10))}");
            await Task.Delay(500);
        }
    }

}

/// <summary>One fault test at a time: each runs its own etcd cluster and server, and the machine is small.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HaCollection
{
    public const string Name = "ha";
}
