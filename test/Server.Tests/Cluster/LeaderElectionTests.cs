using System.Text;
using Holdfast.Server.Cluster;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Holdfast.Server.Tests.Cluster;

/// <summary>Leader election and fencing on one in-memory store shared by several replicas' elections (real time, short leases).</summary>
public sealed class LeaderElectionTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly InMemoryStateStore _store = new(TimeProvider.System);
    private readonly List<LeaderElection> _elections = [];
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var election in _elections)
        {
            await election.StopAsync(CancellationToken.None);
            election.Dispose();
        }

        await _store.DisposeAsync();
    }

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task TwoReplicas_OneStore_ExactlyOneLeadsAndBothRegister()
    {
        var a = await StartAsync("replica-a");
        var b = await StartAsync("replica-b");

        var leader = await LeaderOfAsync(a, b);

        var follower = leader == a ? b : a;
        Assert.False(follower.IsLeader);
        Assert.True(follower.LeaderToken.IsCancellationRequested);
        var holder = await _store.GetAsync(ClusterKeys.Leader, CancellationToken.None);
        Assert.Equal(leader.Term, holder!.CreateRevision);
        Assert.Contains(leader.ReplicaId, Encoding.UTF8.GetString(holder.Value.Span), StringComparison.Ordinal);
        var status = await ClusterStatusEndpoints.ReadAsync(_store, "sqlite", follower.ReplicaId, CancellationToken.None);
        Assert.Equal(leader.ReplicaId, status["leader"]!["replica"]!.GetValue<string>());
        Assert.Equal(leader.Term, status["leader"]!["term"]!.GetValue<long>());
        Assert.Equal(2, status["replicas"]!.AsArray().Count);
        Assert.Equal(follower.ReplicaId, status["thisReplica"]!.GetValue<string>());
    }

    [Fact]
    public async Task LeaderStops_LeaseRevoked_OtherLeadsAtOnceWithANewTerm()
    {
        var a = await StartAsync("replica-a");
        var b = await StartAsync("replica-b");
        var first = await LeaderOfAsync(a, b);
        var firstTerm = first.Term;
        var firstToken = first.LeaderToken;
        var other = first == a ? b : a;

        await first.StopAsync(CancellationToken.None);

        Assert.True(firstToken.IsCancellationRequested);
        Assert.False(first.IsLeader);
        // Well inside one lease TTL (4 s): the revoke deleted the key and the follower's watch woke its campaign.
        await other.WaitForLeadershipAsync(_timeout.Token).WaitAsync(TimeSpan.FromSeconds(3));
        Assert.True(other.Term > firstTerm);
        var status = await ClusterStatusEndpoints.ReadAsync(_store, "sqlite", other.ReplicaId, CancellationToken.None);
        Assert.Single(status["replicas"]!.AsArray());
    }

    [Fact]
    public async Task LeaderDiesWithoutRevoking_OtherLeadsAfterTheLeaseExpires()
    {
        var a = await StartAsync("replica-a", leaseSeconds: 2);
        var b = await StartAsync("replica-b", leaseSeconds: 2);
        var first = await LeaderOfAsync(a, b);
        var other = first == a ? b : a;

        // Disposing stops the loop without the revoke a clean stop does: the lease lives on until its TTL.
        _elections.Remove(first);
        first.Dispose();
        Assert.NotNull(await _store.GetAsync(ClusterKeys.Leader, CancellationToken.None));

        await other.WaitForLeadershipAsync(_timeout.Token).WaitAsync(Patience);
        Assert.True(other.IsLeader);
    }

    [Fact]
    public async Task FencedWrite_FromADeposedTerm_FailsInTheSameTransactionAndEndsTheTerm()
    {
        var a = await StartAsync("replica-a");
        var b = await StartAsync("replica-b");
        var first = await LeaderOfAsync(a, b);
        var other = first == a ? b : a;
        var oldTerm = first.CurrentTerm!;
        var fenced = new FencedStateStore(_store);

        // The leader's lease is revoked behind its back (as if it expired while it was paused); a new term begins.
        await _store.RevokeLeaseAsync(first.LeaseId, CancellationToken.None);
        while (!(a.Term > oldTerm.Number || b.Term > oldTerm.Number))
        {
            await Task.Delay(50, _timeout.Token);
        }

        FencedStateStore.Scope = oldTerm;
        try
        {
            await Assert.ThrowsAsync<LeadershipLostException>(async () =>
                await fenced.TxnAsync(new TxnRequest([Compare.Absent("/t/txn")], [TxnOp.Put("/t/txn", "x"u8.ToArray())]), CancellationToken.None));
            await Assert.ThrowsAsync<LeadershipLostException>(async () => await fenced.PutAsync("/t/put", "x"u8.ToArray(), null, CancellationToken.None));
            await Assert.ThrowsAsync<LeadershipLostException>(async () => await fenced.DeleteAsync(ClusterKeys.Replica(other.ReplicaId), null, CancellationToken.None));
        }
        finally
        {
            FencedStateStore.Scope = null;
        }

        Assert.Null(await _store.GetAsync("/t/txn", CancellationToken.None));
        Assert.Null(await _store.GetAsync("/t/put", CancellationToken.None));
        Assert.NotNull(await _store.GetAsync(ClusterKeys.Replica(other.ReplicaId), CancellationToken.None));
        Assert.True(oldTerm.Token.IsCancellationRequested);

        // The same writes outside a leader-only scope (an API request) are not fenced.
        Assert.True((await fenced.PutAsync("/t/put", "x"u8.ToArray(), null, CancellationToken.None)).Succeeded);
    }

    [Fact]
    public async Task FencedWrite_InTheCurrentTerm_CommitsAndReportsAnOrdinaryConflictAsNotSucceeded()
    {
        var a = await StartAsync("replica-a");
        await a.WaitForLeadershipAsync(_timeout.Token).WaitAsync(Patience);
        var fenced = new FencedStateStore(_store);
        FencedStateStore.Scope = a.CurrentTerm;
        try
        {
            var created = await fenced.PutAsync("/t/k", "1"u8.ToArray(), 0, CancellationToken.None);
            Assert.True(created.Succeeded);
            var stored = await _store.GetAsync("/t/k", CancellationToken.None);
            Assert.Equal(stored!.ModRevision, created.Current!.ModRevision);
            Assert.Equal(stored.CreateRevision, created.Current.CreateRevision);
            Assert.Equal(1, created.Current.Version);

            var conflict = await fenced.PutAsync("/t/k", "2"u8.ToArray(), 0, CancellationToken.None);
            Assert.False(conflict.Succeeded);
            Assert.Equal("1", Encoding.UTF8.GetString(conflict.Current!.Value.Span));

            var txn = await fenced.TxnAsync(new TxnRequest([Compare.Absent("/t/k")], [TxnOp.Put("/t/k", "3"u8.ToArray())], [TxnOp.Get("/t/k")]), CancellationToken.None);
            Assert.False(txn.Succeeded);
            Assert.Single(txn.Results);
            Assert.Equal("1", Encoding.UTF8.GetString(txn.Results[0].Kvs[0].Value.Span));

            var updated = await fenced.PutAsync("/t/k", "4"u8.ToArray(), stored.ModRevision, CancellationToken.None);
            Assert.Equal(2, updated.Current!.Version);
            Assert.False((await fenced.DeleteAsync("/t/k", stored.ModRevision, CancellationToken.None)).Succeeded);
            Assert.True((await fenced.DeleteAsync("/t/k", null, CancellationToken.None)).Succeeded);
            Assert.False((await fenced.DeleteAsync("/t/k", null, CancellationToken.None)).Succeeded);
        }
        finally
        {
            FencedStateStore.Scope = null;
        }

        Assert.True(a.IsLeader);
    }

    [Fact]
    public async Task LeaderOnlyService_RunsOnlyWhileLeading_StopsOnLossAndRestartsOnRegain()
    {
        var a = await StartAsync("replica-a");
        var singleton = new FencedWriter(new FencedStateStore(_store));
        var gated = new LeaderOnlyService(singleton, a, NullLogger<LeaderOnlyService>.Instance);
        await gated.StartAsync(CancellationToken.None);
        try
        {
            await singleton.Running.WaitAsync(Patience);
            var firstTerm = a.Term;

            // The lease is revoked behind the leader's back (as if it expired): the term ends and the singleton stops.
            singleton.Reset();
            await _store.RevokeLeaseAsync(a.LeaseId, CancellationToken.None);
            await singleton.Stopped.WaitAsync(Patience);

            // The replica campaigns again on a new lease, wins a new term, and the singleton is started again.
            await singleton.Running.WaitAsync(Patience);
            Assert.True(a.Term > firstTerm);
            Assert.Equal(2, gated.Starts);
        }
        finally
        {
            await gated.StopAsync(CancellationToken.None);
            gated.Dispose();
        }
    }

    [Fact]
    public async Task LeaderOnlyServices_LastOneStarted_StatusReportsWhenForEachTerm()
    {
        var a = await StartAsync("replica-a");
        var quick = new GatedStart();
        var slow = new GatedStart();
        quick.Open();
        var gated = new[] { new LeaderOnlyService(quick, a, NullLogger<LeaderOnlyService>.Instance), new LeaderOnlyService(slow, a, NullLogger<LeaderOnlyService>.Instance) };
        foreach (var service in gated)
        {
            await service.StartAsync(CancellationToken.None);
        }

        try
        {
            await Task.WhenAll(quick.Entered, slow.Entered).WaitAsync(Patience);
            var firstTerm = a.Term;
            var before = await ClusterStatusEndpoints.ReadAsync(_store, "sqlite", a.ReplicaId, CancellationToken.None);
            Assert.Equal(firstTerm, before["leader"]!["term"]!.GetValue<long>());
            Assert.Null(before["leader"]!["singletonsStartedAt"]);

            // Only once the last one has started does the leader record say so, with that time.
            var released = TimeProvider.System.GetUtcNow();
            slow.Open();
            var first = await StartedLeaderAsync(afterTerm: 0);
            Assert.Equal(firstTerm, first["term"]!.GetValue<long>());
            Assert.True(first["singletonsStartedAt"]!.GetValue<DateTimeOffset>() >= released, $"{first} was stamped before the last service started ({released:O}).");

            // A new term (the lease revoked behind the leader's back): the new record is stamped again.
            await _store.RevokeLeaseAsync(a.LeaseId, CancellationToken.None);
            var second = await StartedLeaderAsync(afterTerm: firstTerm);
            Assert.True(second["singletonsStartedAt"]!.GetValue<DateTimeOffset>() >= second["electedAt"]!.GetValue<DateTimeOffset>());
            Assert.All(gated, g => Assert.Equal(2, g.Starts));
        }
        finally
        {
            foreach (var service in gated)
            {
                await service.StopAsync(CancellationToken.None);
                service.Dispose();
            }
        }
    }

    /// <summary>The status endpoint's leader once its term is above <paramref name="afterTerm"/> and its singletons started (bounded).</summary>
    private async Task<System.Text.Json.Nodes.JsonNode> StartedLeaderAsync(long afterTerm)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var status = await ClusterStatusEndpoints.ReadAsync(_store, "sqlite", "test", CancellationToken.None);
            if (status["leader"] is { } leader && leader["term"]!.GetValue<long>() > afterTerm && leader["singletonsStartedAt"] is not null)
            {
                return leader;
            }

            Assert.True(waited.Elapsed < Patience, $"No leader above term {afterTerm} with its singletons started: {status}");
            await Task.Delay(50);
        }
    }

    private async Task<LeaderElection> StartAsync(string replicaId, int leaseSeconds = 4)
    {
        var options = new HoldfastServerOptions { DataDirectory = "unused", ReplicaId = replicaId, LeaderLeaseSeconds = leaseSeconds };
        var election = new LeaderElection(_store, options, TimeProvider.System, NullLogger<LeaderElection>.Instance);
        _elections.Add(election);
        await election.StartAsync(CancellationToken.None);
        return election;
    }

    private static async Task<LeaderElection> LeaderOfAsync(params LeaderElection[] elections)
    {
        await Task.WhenAny(elections.Select(e => e.WaitForLeadershipAsync(CancellationToken.None))).WaitAsync(Patience);
        // Let a second, wrong leader show itself if there were one.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var leaders = elections.Where(e => e.IsLeader).ToList();
        return Assert.Single(leaders);
    }

    /// <summary>A singleton that writes a key through the fencing store every 50 ms until cancelled.</summary>
    private sealed class FencedWriter(IStateStore store) : BackgroundService
    {
        private TaskCompletionSource _running = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Running => _running.Task;

        public Task Stopped => _stopped.Task;

        public void Reset()
        {
            _running = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
            try
            {
                while (!stoppingToken.IsCancellationRequested)
                {
                    await store.PutAsync("/t/singleton", "x"u8.ToArray(), null, stoppingToken);
                    _running.TrySetResult();
                    await Task.Delay(50, stoppingToken);
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                _stopped.TrySetResult();
            }
        }
    }

    /// <summary>A singleton whose start waits until <see cref="Open"/> (every start after that is at once).</summary>
    private sealed class GatedStart : IHostedService
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Entered => _entered.Task;

        public void Open() => _open.TrySetResult();

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            _entered.TrySetResult();
            await _open.Task.WaitAsync(cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
