using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;
using Holdfast.Fabric;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Fabric;
using Holdfast.Server.Hosting;
using Holdfast.State;
using Holdfast.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Tests.Compute;

/// <summary>
/// The real server in-process over TLS on the in-memory store, signed in as the bootstrap admin (Owner of the default
/// subscription and Cloud Operator). VMs run on the server's simulated fleet (<c>SimulatedHosts</c>: simulated hardware
/// behind the real agent-side logic, hosts <c>sim-0001</c>… of 32 vCPUs, 128 GiB, 1024 GiB disk). Hosts of other shapes
/// are written to the store as InService host documents; nothing runs VMs placed on those.
/// </summary>
public sealed class ComputeTestServer : IAsyncDisposable
{
    public const string ComputeApi = "2023-07-01";
    private readonly TempDirectory _directory = new();
    private InMemoryStateStore _store = null!;
    private RunningServer _server = null!;

    public HttpClient Admin { get; private set; } = null!;

    public string Subscription { get; private set; } = null!;

    public IStateStore Store => _store;

    public CancellationToken Ct { get; } = new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;

    internal CapacityService Capacity => _server.Services.GetRequiredService<CapacityService>();

    internal Holdfast.Server.Agents.FleetSimulator Simulator => _server.Services.GetRequiredService<Holdfast.Server.Agents.FleetSimulator>();

    /// <summary>The first simulated host's name.</summary>
    public const string SimHost = "sim-0001";

    public static readonly CapacityVector SimShape = new(32, 128 * 1024, 1024, 0);

    public static async Task<ComputeTestServer> StartAsync(int simulatedHosts = 0)
    {
        var server = new ComputeTestServer();
        var options = new HoldfastServerOptions
        {
            DataDirectory = server._directory.Path,
            Port = FreePort(),
            Throttle = new ThrottleOptions { Enabled = false },
            SimulatedHosts = simulatedHosts,
            HeartbeatSeconds = 1,
        };
        server._store = new InMemoryStateStore(TimeProvider.System);
        server._server = await HoldfastServer.StartAsync(options, DataDirectory.Open(server._directory.Path), server._store, TimeProvider.System, null, CancellationToken.None);
        var admin = AdminCredentials.Load(server._server.DataDirectory.AdminCredentialsPath);
        server.Subscription = server._server.Bootstrap.SubscriptionId;
        server.Admin = await server.SignedInAsync(admin.ClientId, admin.ClientSecret);
        if (simulatedHosts > 0)
        {
            // The simulator writes its hosts at start; placement must see them before the first VM.
            while (server.Capacity.FindHost(FleetHostName(simulatedHosts)) is null)
            {
                await Task.Delay(25, server.Ct);
            }
        }

        return server;
    }

    public async ValueTask DisposeAsync()
    {
        Admin?.Dispose();
        await _server.DisposeAsync();
        await _store.DisposeAsync();
        _directory.Dispose();
    }

    /// <summary>Writes an InService host and waits until placement sees it.</summary>
    public async Task AddHostAsync(string name, CapacityVector capacity, HostState state = HostState.InService, string? zone = null)
    {
        var host = new HostDocument { Name = name, Site = "s1", Cluster = "c1", Zone = zone, Rack = "r-" + name, Capacity = capacity, State = state };
        var revision = (await _store.PutAsync(FabricKeys.Host(name), FabricJson.Serialize(host), null, Ct)).Revision;
        await Capacity.WaitLoadedAsync(Ct);
        await Capacity.WaitForRevisionAsync(revision, Ct);
    }

    public static string FleetHostName(int number) => $"sim-{number:D4}";

    public async Task<HostAllocationRecord> RecordAsync(string host)
    {
        var kv = await _store.GetAsync(FabricKeys.Allocations(host), Ct);
        return kv is null ? HostAllocationRecord.Empty(host) : AllocationRecordCodec.Decode(kv.Value.Span, kv.ModRevision);
    }

    public async Task<IReadOnlyList<InstanceDocument>> InstancesAsync()
    {
        var page = await _store.RangeAsync(new RangeRequest(FabricKeys.InstancesPrefix), Ct);
        return [.. page.Items.Select(kv => FabricJson.Deserialize<InstanceDocument>(kv.Value.Span))];
    }

    public async Task CreateGroupAsync(string group)
    {
        using var response = await Admin.PutAsync($"subscriptions/{Subscription}/resourcegroups/{group}?api-version=2022-09-01", Json("{\"location\":\"local\"}"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    public string VmPath(string group, string name, string apiVersion = ComputeApi) =>
        $"subscriptions/{Subscription}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{name}?api-version={apiVersion}";

    public static StringContent VmBody(string size, string? reservationGroupId = null)
    {
        var reservation = reservationGroupId is null ? string.Empty : $",\"capacityReservation\":{{\"capacityReservationGroup\":{{\"id\":\"{reservationGroupId}\"}}}}";
        return Json("{\"tags\":{},\"location\":\"local\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"" + size + "\"},"
            + "\"storageProfile\":{\"imageReference\":{\"publisher\":\"Canonical\",\"offer\":\"0001-com-ubuntu-server-jammy\",\"sku\":\"22_04-lts-gen2\",\"version\":\"latest\"},\"osDisk\":{\"createOption\":\"FromImage\"}},"
            + "\"osProfile\":{\"computerName\":\"vm1\",\"adminUsername\":\"azureuser\",\"adminPassword\":\"Sup3r-Secret!\"}" + reservation + "}}");
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public async Task<(HttpStatusCode Status, JsonObject Body)> SendAsync(HttpMethod method, string path, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await Admin.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, text.Length == 0 ? [] : JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>GETs the resource until its provisioningState is terminal (or it is gone: null).</summary>
    public async Task<JsonObject?> WaitTerminalAsync(string path)
    {
        while (true)
        {
            var (status, body) = await SendAsync(HttpMethod.Get, path);
            if (status == HttpStatusCode.NotFound)
            {
                return null;
            }

            Assert.Equal(HttpStatusCode.OK, status);
            var state = body["properties"]?["provisioningState"]?.GetValue<string>();
            if (state is "Succeeded" or "Failed" or "Canceled")
            {
                return body;
            }

            await Task.Delay(25, Ct);
        }
    }

    /// <summary>Polls until the resource is gone.</summary>
    public async Task WaitGoneAsync(string path)
    {
        while ((await SendAsync(HttpMethod.Get, path)).Status != HttpStatusCode.NotFound)
        {
            await Task.Delay(25, Ct);
        }
    }

    public async Task<Dictionary<string, (int Current, int Limit)>> UsagesAsync()
    {
        var (status, body) = await SendAsync(HttpMethod.Get, $"subscriptions/{Subscription}/providers/Microsoft.Compute/locations/local/usages?api-version={ComputeApi}");
        Assert.Equal(HttpStatusCode.OK, status);
        return body["value"]!.AsArray().ToDictionary(u => u!["name"]!["value"]!.GetValue<string>(), u => (u!["currentValue"]!.GetValue<int>(), u["limit"]!.GetValue<int>()));
    }

    private HttpClientHandler Handler() => InProcessClients.TrustingHandler(_server);

    private Task<HttpClient> SignedInAsync(string clientId, string secret) => InProcessClients.SignedInAsync(_server, clientId, secret);

    private static int FreePort() => InProcessClients.FreePort();
}
