using System.Collections.Concurrent;
using System.Net;
using Azure.ResourceManager.Resources;
using Holdfast.Server.IntegrationTests.Infrastructure;
using Holdfast.Testing;

namespace Holdfast.Server.IntegrationTests.Hosting;

/// <summary>
/// <c>holdfast serve --store etcd://…</c>: the real server on a real etcd member (Debian's etcd-server) instead of the
/// SQLite file, surviving kill -9 of the etcd member and of the server.
/// </summary>
public sealed class EtcdStoreTests : IDisposable
{
    private static readonly TimeSpan RecoveryTimeout = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Serve_EtcdApiGateway_ServesTheSdkThroughTheJsonGateway()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using var server = await ServerProcess.StartAsync(null, "--store", $"etcd://127.0.0.1:{etcd.ClientPort}", "--etcd-api", "gateway");
        var groups = (await Clients.Arm(server.Credentials).GetDefaultSubscriptionAsync()).GetResourceGroups();

        await groups.CreateOrUpdateAsync(Azure.WaitUntil.Completed, "through-gateway", new ResourceGroupData(new Azure.Core.AzureLocation("local")) { Tags = { ["api"] = "gateway" } });

        var read = await groups.GetAsync("through-gateway");
        Assert.Equal("gateway", read.Value.Data.Tags["api"]);
    }

    [Fact]
    public async Task Serve_UnknownEtcdApi_FailsAtStartup()
    {
        var (exit, output) = await ServerProcess.RunToExitAsync(["serve", "--data-dir", ServerProcess.NewDataDirectory(), "--port", "18996", "--agent-port", "0", "--store", "etcd://127.0.0.1:1", "--etcd-api", "rest"]);

        Assert.NotEqual(0, exit);
        Assert.Contains("--etcd-api 'rest'", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_EtcdStore_KeepsStateInEtcdThroughKillsOfEtcdAndServer()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using var server = await ServerProcess.StartAsync(null, "--store", $"etcd://127.0.0.1:{etcd.ClientPort}");
        var groups = (await Clients.Arm(server.Credentials).GetDefaultSubscriptionAsync()).GetResourceGroups();
        await groups.CreateOrUpdateAsync(Azure.WaitUntil.Completed, "before-etcd-kill", new ResourceGroupData(new Azure.Core.AzureLocation("local")));

        etcd.Kill();
        await etcd.StartAsync();

        // The server keeps running while etcd is away; its requests fail until etcd is back, then succeed again.
        using var http = await Clients.AuthenticatedHttpAsync(server.Credentials);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        System.Net.HttpStatusCode status;
        do
        {
            using var response = await http.PutAsync(
                $"subscriptions/{server.Credentials.SubscriptionId}/resourcegroups/after-etcd-kill?api-version=2022-09-01", Clients.Json("""{"location":"local"}"""));
            status = response.StatusCode;
            if (status != System.Net.HttpStatusCode.Created)
            {
                await Task.Delay(200);
            }
        }
        while (status != System.Net.HttpStatusCode.Created && waited.Elapsed < RecoveryTimeout);
        Assert.Equal(System.Net.HttpStatusCode.Created, status);

        server.Kill();
        await server.StartAsync();

        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "state.db")), "The server wrote a SQLite store although --store named etcd.");
        var again = (await Clients.Arm(server.Credentials).GetDefaultSubscriptionAsync()).GetResourceGroups();
        Assert.True((await again.ExistsAsync("before-etcd-kill")).Value);
        Assert.True((await again.ExistsAsync("after-etcd-kill")).Value);
    }

    [Fact]
    public async Task Serve_EtcdMemberKilledUnderConcurrentWrites_EveryAcknowledgedWriteSurvivesAndNoneFailsWith500()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using var server = await ServerProcess.StartAsync(null, "--throttle", "off", "--store", $"etcd://127.0.0.1:{etcd.ClientPort}");
        using var http = await Clients.AuthenticatedHttpAsync(server.Credentials);
        var acknowledged = new ConcurrentBag<string>();
        var statuses = new ConcurrentDictionary<HttpStatusCode, int>();
        var before = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var after = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int afterRestart = 0;
        bool restarted = false;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var writers = Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            for (int i = 0; !after.Task.IsCompleted && !stop.IsCancellationRequested; i++)
            {
                string name = $"etcd-{w}-{i}";
                using var response = await http.PutAsync(
                    $"subscriptions/{server.Credentials.SubscriptionId}/resourcegroups/{name}?api-version=2022-09-01", Clients.Json("""{"location":"local"}"""), stop.Token);
                statuses.AddOrUpdate(response.StatusCode, 1, (_, n) => n + 1);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    acknowledged.Add(name);
                    if (acknowledged.Count >= 100)
                    {
                        before.TrySetResult();
                    }

                    if (Volatile.Read(ref restarted) && Interlocked.Increment(ref afterRestart) >= 100)
                    {
                        after.TrySetResult();
                    }
                }
                else
                {
                    await Task.Delay(50, stop.Token);
                }
            }
        })).ToList();

        await before.Task.WaitAsync(RecoveryTimeout);
        etcd.Kill();
        await Task.Delay(TimeSpan.FromSeconds(1));
        await etcd.StartAsync();
        Volatile.Write(ref restarted, true);
        await after.Task.WaitAsync(RecoveryTimeout);
        await Task.WhenAll(writers).WaitAsync(RecoveryTimeout);

        string seen = string.Join(", ", statuses.Select(p => $"{(int)p.Key}×{p.Value}"));
        Assert.True(statuses.Keys.All(s => s is HttpStatusCode.Created or HttpStatusCode.ServiceUnavailable), "Statuses: " + seen);

        // Not vacuous: the writers did meet the outage (retryable 503s while etcd was down).
        Assert.True(statuses.ContainsKey(HttpStatusCode.ServiceUnavailable), "No request met the outage. Statuses: " + seen);
        var groups = (await Clients.Arm(server.Credentials).GetDefaultSubscriptionAsync()).GetResourceGroups();
        var stored = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        await foreach (var group in groups.GetAllAsync())
        {
            stored.Add(group.Data.Name);
        }

        var missing = acknowledged.Where(name => !stored.Contains(name)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {acknowledged.Count} acknowledged groups are missing: {string.Join(", ", missing.Take(10))}");
    }
}
