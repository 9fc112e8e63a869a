using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Hosting;
using Holdfast.State;
using Holdfast.Testing;

namespace Holdfast.Server.Tests.Arm.Network;

/// <summary>The real server in-process over TLS on an in-memory store the tests can also read (ipam keys), signed in as the admin.</summary>
public sealed class NetworkServer : IAsyncLifetime, IDisposable
{
    public const string ApiVersion = "2024-05-01";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _directory = new();
    private RunningServer _server = null!;

    public InMemoryStateStore Store { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    public string Subscription { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var options = new HoldfastServerOptions { DataDirectory = _directory.Path, Port = FreePort(), Throttle = new ThrottleOptions { Enabled = false } };
        Store = new InMemoryStateStore(TimeProvider.System);
        _server = await HoldfastServer.StartAsync(options, DataDirectory.Open(_directory.Path), Store, TimeProvider.System, null, CancellationToken.None);
        var admin = AdminCredentials.Load(_server.DataDirectory.AdminCredentialsPath);
        Subscription = _server.Bootstrap.SubscriptionId;
        Admin = await SignedInAsync(admin.ClientId, admin.ClientSecret);
    }

    public async Task DisposeAsync()
    {
        Admin?.Dispose();
        await _server.DisposeAsync();
        await Store.DisposeAsync();
    }

    public void Dispose() => _directory.Dispose();

    public string Network(string group, string path) => $"subscriptions/{Subscription}/resourceGroups/{group}/providers/Microsoft.Network/{path}";

    public string Id(string group, string path) => "/" + Network(group, path);

    public async Task CreateGroupAsync(string group)
    {
        using var response = await Admin.PutAsync($"subscriptions/{Subscription}/resourcegroups/{group}?api-version=2022-09-01", Json("{\"location\":\"local\"}"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    public async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpMethod method, string path, string? body = null, string apiVersion = ApiVersion)
    {
        using var request = new HttpRequestMessage(method, path + "?api-version=" + apiVersion) { Content = body is null ? null : Json(body) };
        using var response = await Admin.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>PUTs and waits for <c>Succeeded</c>; returns the resource as GET shows it.</summary>
    public async Task<JsonNode> PutSucceededAsync(string path, string body, string apiVersion = ApiVersion)
    {
        var (status, answer) = await SendAsync(HttpMethod.Put, path, body, apiVersion);
        Assert.True(status is HttpStatusCode.Created or HttpStatusCode.OK, $"PUT {path} answered {(int)status}: {answer?.ToJsonString()}");
        return await WaitForStateAsync(path, "Succeeded");
    }

    public async Task<JsonNode> WaitForStateAsync(string path, string state)
    {
        var until = TimeProvider.System.GetUtcNow() + Deadline;
        while (true)
        {
            var (status, body) = await SendAsync(HttpMethod.Get, path);
            if (status == HttpStatusCode.OK && body?["properties"]?["provisioningState"]?.GetValue<string>() == state)
            {
                return body;
            }

            Assert.True(TimeProvider.System.GetUtcNow() < until, $"{path} did not reach {state}: {(int)status} {body?.ToJsonString()}");
            await Task.Delay(50);
        }
    }

    public async Task WaitGoneAsync(string path, string apiVersion = ApiVersion)
    {
        var until = TimeProvider.System.GetUtcNow() + Deadline;
        while ((await SendAsync(HttpMethod.Get, path, apiVersion: apiVersion)).Status != HttpStatusCode.NotFound)
        {
            Assert.True(TimeProvider.System.GetUtcNow() < until, $"{path} was not removed.");
            await Task.Delay(50);
        }
    }

    public async Task<IReadOnlyList<string>> IpamKeysAsync(string prefix)
    {
        var range = await Store.RangeAsync(new RangeRequest(prefix), CancellationToken.None);
        return range.Items.Select(kv => kv.Key).ToList();
    }

    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private HttpClientHandler Handler() => InProcessClients.TrustingHandler(_server);

    private Task<HttpClient> SignedInAsync(string clientId, string secret) => InProcessClients.SignedInAsync(_server, clientId, secret);

    private static int FreePort() => InProcessClients.FreePort();
}
