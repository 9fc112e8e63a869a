using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Holdfast.Server.HaTests.Infrastructure;

/// <summary>The replicas' status endpoint (<c>GET /providers/Holdfast.Cluster/status</c>) as the fault tests read it.</summary>
internal static class ClusterStatus
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    /// <summary>The leader as the status endpoint names it, once its term is above <paramref name="previousTerm"/> (bounded).</summary>
    public static async Task<(string Replica, long Term)> LeaderAsync(HttpClient http, long previousTerm)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var status = await StatusAsync(http);
                if (status["leader"] is JsonObject leader && leader["term"]!.GetValue<long>() > previousTerm)
                {
                    return (leader["replica"]!.GetValue<string>(), leader["term"]!.GetValue<long>());
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException)
            {
                // A connection to the killed replica, or the store electing: asked again.
            }

            Assert.True(deadline.Elapsed < Bound, $"No leader with a term above {previousTerm} within {Bound.TotalSeconds} s.");
            await Task.Delay(100);
        }
    }

    /// <summary>One status document (3 s deadline); a non-2xx answer throws.</summary>
    public static async Task<JsonNode> StatusAsync(HttpClient http)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        using var response = await http.GetAsync(new Uri("providers/Holdfast.Cluster/status?api-version=2025-01-01", UriKind.Relative), timeout.Token);
        string body = await response.Content.ReadAsStringAsync(timeout.Token);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"status: {(int)response.StatusCode} {body}");
        }

        return JsonNode.Parse(body)!;
    }

    /// <summary>
    /// Every replica, asked on its own port, names the same leader (replica and term), that leader is one of the
    /// replicas, registered, answers as itself, and reports its leader-only services started in that term. Asked
    /// again until that holds (an election may be under way), bounded; the term is returned.
    /// </summary>
    public static async Task<long> AssertReplicasAgreeOnOneLeaderAsync(HaCluster cluster, ITestOutputHelper output)
    {
        var clients = new List<HttpClient>();
        try
        {
            foreach (var replica in cluster.Replicas)
            {
                clients.Add(await HaCluster.SignedInClientAsync(replica.Credentials, ports: [replica.Port]));
            }

            var deadline = Stopwatch.StartNew();
            while (true)
            {
                var seen = new List<string>();
                var statuses = new List<JsonNode>();
                foreach (var client in clients)
                {
                    try
                    {
                        statuses.Add(await StatusAsync(client));
                    }
                    catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException)
                    {
                        seen.Add(exception.Message);
                    }
                }

                seen.AddRange(statuses.Select(s => $"{s["thisReplica"]}: leader {s["leader"]?.ToJsonString() ?? "none"}"));
                if (statuses.Count == clients.Count && Agree(statuses) is { } term)
                {
                    output.WriteLine("replicas agree: " + string.Join("; ", seen));
                    return term;
                }

                Assert.True(deadline.Elapsed < Bound, $"The replicas did not agree on one leader with its singletons started within {Bound.TotalSeconds} s: {string.Join("; ", seen)}. Leadership log:\n{cluster.LeadershipLog()}");
                await Task.Delay(200);
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    private static long? Agree(List<JsonNode> statuses)
    {
        var leaders = statuses.Select(s => s["leader"]).ToList();
        if (leaders.Any(l => l is null) || leaders.Select(l => (l!["replica"]!.GetValue<string>(), l["term"]!.GetValue<long>())).Distinct().Count() != 1)
        {
            return null;
        }

        string leader = leaders[0]!["replica"]!.GetValue<string>();
        bool registered = statuses.All(s => s["replicas"]!.AsArray().Any(r => r!["replica"]!.GetValue<string>() == leader));
        bool answersAsItself = statuses.Any(s => s["thisReplica"]!.GetValue<string>() == leader);
        return registered && answersAsItself && leaders[0]!["singletonsStartedAt"] is not null ? leaders[0]!["term"]!.GetValue<long>() : null;
    }
}
