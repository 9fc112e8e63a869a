using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Durability;

/// <summary>
/// The durability promise: a write is acknowledged only once durable. Concurrent writers run against a real server,
/// which is killed with SIGKILL mid-stream and restarted on the same data directory; every acknowledged write must be
/// there, whole, and every acknowledged long-running operation must finish after the restart.
/// </summary>
public sealed class KillNineTests
{
    private const int Writers = 8;
    private const int AcknowledgedBeforeKill = 300;

    [Fact]
    public async Task KillNine_DuringConcurrentWrites_EveryAcknowledgedWriteSurvivesWhole()
    {
        await using var server = await ServerProcess.StartAsync(null, "--throttle", "off");
        var credentials = server.Credentials;
        var subscription = credentials.SubscriptionId;
        using var http = await Clients.AuthenticatedHttpAsync(credentials);
        using (var setup = await http.PutAsync($"subscriptions/{subscription}/resourcegroups/net?api-version=2022-09-01", Clients.Json("""{"location":"local"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, setup.StatusCode);
        }

        var acknowledgedGroups = new ConcurrentDictionary<string, int>();
        var acknowledgedNetworks = new ConcurrentBag<string>();
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    if (i % 4 == 3)
                    {
                        var vnet = $"v{w}-{i}";
                        using var response = await http.PutAsync(
                            $"subscriptions/{subscription}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/{vnet}?api-version=2023-09-01",
                            Clients.Json("{\"location\":\"local\",\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10." + w + ".0.0/16\"]}}}"),
                            stop.Token);
                        if (response.StatusCode == HttpStatusCode.Created)
                        {
                            acknowledgedNetworks.Add(vnet);
                        }
                    }
                    else
                    {
                        var name = $"kill-{w}-{i}";
                        using var response = await http.PutAsync(
                            $"subscriptions/{subscription}/resourcegroups/{name}?api-version=2022-09-01",
                            Clients.Json($$$"""{"location":"local","tags":{"writer":"{{{w}}}","seq":"{{{i}}}"}}"""),
                            stop.Token);
                        if (response.StatusCode == HttpStatusCode.Created)
                        {
                            acknowledgedGroups[name] = i;
                        }
                    }

                    if (acknowledgedGroups.Count + acknowledgedNetworks.Count >= AcknowledgedBeforeKill)
                    {
                        enough.TrySetResult();
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
                {
                    // The server is gone (killed); this writer is done.
                    return;
                }
            }
        })).ToArray();

        await Task.WhenAny(enough.Task, Task.Delay(TimeSpan.FromSeconds(45)));
        Assert.True(enough.Task.IsCompleted, "writers made too little progress before the kill");
        server.Kill();
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        await server.StartAsync();
        using var after = await Clients.AuthenticatedHttpAsync(server.Credentials);
        var groups = await ListAllAsync(after, $"subscriptions/{subscription}/resourcegroups?api-version=2022-09-01");
        var byName = groups.ToDictionary(g => g.GetProperty("name").GetString()!, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, seq) in acknowledgedGroups)
        {
            Assert.True(byName.TryGetValue(name, out var group), $"acknowledged resource group '{name}' was lost");
            Assert.Equal(seq.ToString(System.Globalization.CultureInfo.InvariantCulture), group.GetProperty("tags").GetProperty("seq").GetString());
            Assert.Equal("Succeeded", group.GetProperty("properties").GetProperty("provisioningState").GetString());
        }

        // Nothing half-written: every group present is complete, whether or not its PUT was acknowledged.
        Assert.All(groups, g =>
        {
            Assert.StartsWith($"/subscriptions/{subscription}/resourceGroups/", g.GetProperty("id").GetString(), StringComparison.Ordinal);
            Assert.Equal("local", g.GetProperty("location").GetString());
        });

        // Every acknowledged operation completes after the restart: the reconciler resumes from committed state.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        foreach (var vnet in acknowledgedNetworks)
        {
            while (true)
            {
                using var response = await after.GetAsync($"subscriptions/{subscription}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/{vnet}?api-version=2023-09-01", deadline.Token);
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"acknowledged virtual network '{vnet}' was lost");
                using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(deadline.Token));
                var state = document.RootElement.GetProperty("properties").GetProperty("provisioningState").GetString();
                if (state == "Succeeded")
                {
                    break;
                }

                Assert.True(state is "Creating" or "Updating", $"unexpected state '{state}' for '{vnet}'");
                await Task.Delay(100, deadline.Token);
            }
        }
    }

    private static async Task<List<JsonElement>> ListAllAsync(HttpClient http, string path)
    {
        var items = new List<JsonElement>();
        string? next = path;
        while (next is not null)
        {
            using var document = JsonDocument.Parse(await http.GetStringAsync(next));
            items.AddRange(document.RootElement.GetProperty("value").EnumerateArray().Select(e => e.Clone()));
            next = document.RootElement.TryGetProperty("nextLink", out var link) && link.ValueKind == JsonValueKind.String ? link.GetString() : null;
        }

        return items;
    }
}
