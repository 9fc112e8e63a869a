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
        await Placement.AssertEachVmPlacedOnceAsync(cluster.ReadStoreAsync, workload, output);
    }
}

/// <summary>One fault test at a time: each runs its own etcd cluster and server, and the machine is small.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HaCollection
{
    public const string Name = "ha";
}
