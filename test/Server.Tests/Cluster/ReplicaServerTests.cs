using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Cluster;
using Holdfast.Server.Hosting;
using Holdfast.State;
using Holdfast.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Holdfast.Server.Tests.Cluster;

/// <summary>One in-process server (a replica set of one): every singleton runs under leadership, and the status endpoint.</summary>
public sealed class ReplicaServerTests
{
    [Fact]
    public async Task Server_Started_ElectsItselfAndStartsEverySingletonOnce()
    {
        using var directory = new TempDirectory();
        var options = new HoldfastServerOptions { DataDirectory = directory.Path, Port = InProcessClients.FreePort(), SimulatedHosts = 1, HeartbeatSeconds = 1, ReplicaId = "solo" };
        await using var store = new InMemoryStateStore(TimeProvider.System);
        await using var server = await HoldfastServer.StartAsync(options, DataDirectory.Open(directory.Path), store, TimeProvider.System, null, CancellationToken.None);
        var leadership = server.Services.GetRequiredService<ILeadership>();
        await leadership.WaitForLeadershipAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        // Reconcilers, compaction, activity-log chainer, drain, usage sampler, health monitor, fleet simulator.
        var gated = server.Services.GetServices<IHostedService>().OfType<LeaderOnlyService>().ToList();
        Assert.Equal(7, gated.Count);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (gated.Any(g => g.Starts == 0) && waited.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50);
        }

        Assert.All(gated, g => Assert.Equal(1, g.Starts));

        var admin = AdminCredentials.Load(server.DataDirectory.AdminCredentialsPath);
        using var http = await InProcessClients.SignedInAsync(server, admin.ClientId, admin.ClientSecret);
        // The leader record says when the term's last leader-only service started (published just after, so polled).
        JsonNode status;
        var published = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            using var response = await http.GetAsync("providers/Holdfast.Cluster/status?api-version=2025-01-01");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            status = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            if (status["leader"]?["singletonsStartedAt"] is not null || published.Elapsed > TimeSpan.FromSeconds(20))
            {
                break;
            }

            await Task.Delay(50);
        }

        Assert.True(status["leader"]!["singletonsStartedAt"]?.GetValue<DateTimeOffset>() >= status["leader"]!["electedAt"]!.GetValue<DateTimeOffset>(), $"No singletonsStartedAt at or after electedAt: {status}");
        Assert.Equal("sqlite", status["store"]!.GetValue<string>());
        Assert.Equal("solo", status["leader"]!["replica"]!.GetValue<string>());
        Assert.Equal(leadership.Term, status["leader"]!["term"]!.GetValue<long>());
        Assert.Equal("solo", status["thisReplica"]!.GetValue<string>());
        Assert.True(status["revision"]!.GetValue<long>() >= leadership.Term);
        Assert.Single(status["replicas"]!.AsArray());

        // The registration learns the agent listener once it is bound (the next renewal writes it).
        var registered = System.Diagnostics.Stopwatch.StartNew();
        string? agentEndpoint;
        do
        {
            var kv = await store.GetAsync(ClusterKeys.Replica("solo"), CancellationToken.None);
            agentEndpoint = JsonNode.Parse(kv!.Value.Span)!["agentEndpoint"]?.GetValue<string>();
            await Task.Delay(50);
        }
        while (agentEndpoint is null && registered.Elapsed < TimeSpan.FromSeconds(20));
        Assert.Equal(server.AgentEndpoint!.ToString(), agentEndpoint);

        using var unversioned = await http.GetAsync("providers/Holdfast.Cluster/status");
        Assert.Equal(HttpStatusCode.BadRequest, unversioned.StatusCode);
    }
}
