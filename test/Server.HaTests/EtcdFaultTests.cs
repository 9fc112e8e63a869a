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
    public Task Writes_EtcdLeaderKilled9AndRestarted_NothingLostAndLinearizable() => RunUnderLoadAsync((cluster, _) => KillEtcdLeaderAndRestartAsync(cluster));

    /// <summary>
    /// The same fault under three replicas (the workload spread over them): besides the checks of every fault test,
    /// every acknowledged VM reaches Succeeded (the leader's reconcilers ran on through the store's election) and the
    /// replicas agree on one leader afterwards.
    /// </summary>
    [Fact]
    public Task Writes_EtcdLeaderKilled9UnderThreeReplicas_OneLeaderNothingLostAndLinearizable() =>
        RunUnderLoadAsync(async (cluster, http) =>
        {
            var (leader, term) = await ClusterStatus.LeaderAsync(http, previousTerm: 0);
            output.WriteLine($"replica leader {leader} (term {term})");
            await KillEtcdLeaderAndRestartAsync(cluster);
        }, replicas: 3);

    [Fact]
    public Task Writes_OneEtcdFollowerStoppedAndRestarted_NothingLostAndLinearizable() =>
        RunUnderLoadAsync(async (cluster, _) =>
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
        RunUnderLoadAsync(async (cluster, _) =>
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

    private async Task KillEtcdLeaderAndRestartAsync(HaCluster cluster)
    {
        var leader = await cluster.FindEtcdLeaderAsync();
        output.WriteLine($"kill -9 etcd leader {leader}");
        leader.Kill();
        await Task.Delay(Down);
        await leader.StartAsync();
    }

    private async Task RunUnderLoadAsync(Func<HaCluster, HttpClient, Task> fault, int replicas = 1)
    {
        await using var cluster = await HaCluster.StartAsync(replicas);
        using var http = replicas == 1 ? await cluster.SignedInClientAsync() : await cluster.SpreadClientAsync();
        var workload = new RegisterWorkload(http, cluster.Server.Credentials.SubscriptionId);
        await workload.InitializeAsync();
        await UnderLoad.RunAndCheckAsync(workload, () => fault(cluster, http), output);
        if (replicas > 1)
        {
            var notSucceeded = await workload.VmsNotSucceededAsync(TimeSpan.FromSeconds(30));
            Assert.True(notSucceeded.Count == 0, "Acknowledged VMs not Succeeded: " + string.Join("; ", notSucceeded.Take(10)));
        }

        await Placement.AssertEachVmPlacedOnceAsync(cluster.ReadStoreAsync, workload, output);
        if (replicas > 1)
        {
            await ClusterStatus.AssertReplicasAgreeOnOneLeaderAsync(cluster, output);
        }
    }
}

/// <summary>One fault test at a time: each runs its own etcd cluster and server, and the machine is small.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HaCollection
{
    public const string Name = "ha";
}
