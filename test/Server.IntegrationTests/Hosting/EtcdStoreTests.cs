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
}
