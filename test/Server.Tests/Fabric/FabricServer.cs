using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Fabric;
using Holdfast.Server.Hosting;
using Holdfast.State;
using Holdfast.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Tests.Fabric;

/// <summary>
/// The real server in-process over TLS on the in-memory store, for the fleet and planning APIs: the bootstrap admin
/// (Cloud Operator at "/") as <see cref="Admin"/>, and <see cref="Nobody"/>, a service principal with no role. The
/// drain and sampling loops run with long intervals, so a test drives a pass itself (<see cref="Drain"/>,
/// <see cref="Sampler"/>) and nothing moves behind its back.
/// </summary>
public sealed class FabricServer : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(5));
    private RunningServer _server = null!;

    public InMemoryStateStore Store { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    public HttpClient Nobody { get; private set; } = null!;

    internal CapacityService Capacity => _server.Services.GetRequiredService<CapacityService>();

    internal DrainController Drain => _server.Services.GetRequiredService<DrainController>();

    internal UsageSampler Sampler => _server.Services.GetRequiredService<UsageSampler>();

    public CancellationToken Timeout => _timeout.Token;

    public async Task InitializeAsync()
    {
        var options = new HoldfastServerOptions
        {
            DataDirectory = _directory.Path,
            Port = FreePort(),
            Throttle = new ThrottleOptions { Enabled = false },
            DrainInterval = TimeSpan.FromHours(1),
            UsageSampleInterval = TimeSpan.FromHours(1),
        };
        Store = new InMemoryStateStore(TimeProvider.System);
        _server = await HoldfastServer.StartAsync(options, DataDirectory.Open(_directory.Path), Store, TimeProvider.System, null, CancellationToken.None);
        var admin = AdminCredentials.Load(_server.DataDirectory.AdminCredentialsPath);
        Admin = await SignedInAsync(admin.ClientId, admin.ClientSecret);
        var name = "nobody-" + Guid.NewGuid().ToString("N")[..8];
        using var created = await Admin.PutAsync($"providers/Holdfast.Identity/servicePrincipals/{name}?api-version=2025-01-01", Json("{\"properties\":{}}"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var appId = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["properties"]!["appId"]!.GetValue<string>();
        using var password = await Admin.PostAsync($"providers/Holdfast.Identity/servicePrincipals/{name}/addPassword?api-version=2025-01-01", Json("{}"));
        var secret = JsonNode.Parse(await password.Content.ReadAsStringAsync())!["secretText"]!.GetValue<string>();
        Nobody = await SignedInAsync(appId, secret);
        await Capacity.WaitLoadedAsync(Timeout);
    }

    public async Task DisposeAsync()
    {
        Nobody?.Dispose();
        Admin?.Dispose();
        await _server.DisposeAsync();
        await Store.DisposeAsync();
        Dispose();
    }

    public void Dispose()
    {
        _directory.Dispose();
        _timeout.Dispose();
    }

    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>Sends a request and returns the status and parsed body (null when empty).</summary>
    public static async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpClient client, HttpMethod method, string path, string? body = null, string apiVersion = "2025-01-01")
    {
        var separator = path.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        using var request = new HttpRequestMessage(method, apiVersion.Length == 0 ? path : $"{path}{separator}api-version={apiVersion}");
        if (body is not null)
        {
            request.Content = Json(body);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpMethod method, string path, string? body = null) => SendAsync(Admin, method, path, body);

    /// <summary>A site, cluster and rack of unique names; returns (site, cluster, rack).</summary>
    public async Task<(string Site, string Cluster, string Rack)> TopologyAsync(string? zone = null)
    {
        var site = Unique("site");
        var cluster = Unique("cl");
        var rack = Unique("rack");
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Put, $"providers/Holdfast.Fabric/sites/{site}", "{\"properties\":{}}")).Status);
        var zoneJson = zone is null ? string.Empty : $",\"zone\":\"{zone}\"";
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Put, $"providers/Holdfast.Fabric/clusters/{cluster}", $"{{\"properties\":{{\"site\":\"{site}\"{zoneJson}}}}}")).Status);
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Put, $"providers/Holdfast.Fabric/racks/{rack}", $"{{\"properties\":{{\"cluster\":\"{cluster}\"}}}}")).Status);
        return (site, cluster, rack);
    }

    /// <summary>Creates a host in <paramref name="rack"/> and, unless <paramref name="inService"/> is false, puts it in service (<see cref="PassValidationAsync"/>).</summary>
    public async Task<string> HostAsync(string rack, int vCpus = 16, int memoryMiB = 65536, bool inService = true, string traits = "[]", string? name = null)
    {
        name ??= Unique("host");
        var (status, body) = await SendAsync(HttpMethod.Put, $"providers/Holdfast.Fabric/hosts/{name}", $"{{\"properties\":{{\"rack\":\"{rack}\",\"capacity\":{{\"vCpus\":{vCpus},\"memoryMiB\":{memoryMiB},\"diskGiB\":100}},\"traits\":{traits}}}}}");
        Assert.True(status == HttpStatusCode.Created, body?.ToJsonString());
        if (inService)
        {
            await PassValidationAsync(name);
        }

        return name;
    }

    /// <summary>
    /// Moves a host to InService as the agent side does when its agent's report passes validation (no agent runs in
    /// these tests: this stands in for the simulated host's report), and waits until placement has seen it.
    /// </summary>
    public async Task PassValidationAsync(string name)
    {
        var key = FabricKeys.Host(name);
        var kv = await Store.GetAsync(key, Timeout);
        var host = FabricJson.Deserialize<HostDocument>(kv!.Value.Span) with { State = HostState.InService, StateReason = "Passed validation (simulated agent report)." };
        var result = await Store.PutAsync(key, FabricJson.Serialize(host), kv.ModRevision, Timeout);
        Assert.True(result.Succeeded);
        await Capacity.WaitForRevisionAsync(result.Revision, Timeout);
    }

    public async Task<KeyValue?> GetAsync(string key) => await Store.GetAsync(key, Timeout);

    private HttpClientHandler Handler() => InProcessClients.TrustingHandler(_server);

    private Task<HttpClient> SignedInAsync(string clientId, string secret) => InProcessClients.SignedInAsync(_server, clientId, secret);

    private static int FreePort() => InProcessClients.FreePort();
}
