using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Cluster;
using Holdfast.Server.Hosting;
using Holdfast.State;
using Holdfast.Testing;

namespace Holdfast.Server.Tests.Cluster;

/// <summary>
/// Two replicas in one process on one shared store (the in-memory one, standing in for etcd here; the integration
/// tests run real etcd and real server processes), each with its own data directory, both behind one public endpoint.
/// </summary>
public sealed class ClusterReplicaTests : IAsyncLifetime, IDisposable
{
    private static readonly ClusterToken Token = ClusterToken.Parse("cluster-replica-tests-token-0001");
    private readonly TempDirectory _directory = new();
    private readonly InMemoryStateStore _inner = new(TimeProvider.System);
    private readonly Uri _endpoint = new("https://localhost:" + InProcessClients.FreePort() + "/");
    private RunningServer _a = null!;
    private RunningServer _b = null!;

    public async Task InitializeAsync()
    {
        // Both start at once on an empty store: the first-start race, forced (both read it empty before either writes).
        var store = new GatedStore(_inner, parties: 2);
        var started = await Task.WhenAll(Task.Run(() => StartAsync(store, "a")), Task.Run(() => StartAsync(store, "b")));
        (_a, _b) = (started[0], started[1]);
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        await _inner.DisposeAsync();
    }

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task StartAsync_TwoReplicasAtOnce_ShareTheCaAndAdminButEachHasItsOwnServerCertificate()
    {
        Assert.Equal(await File.ReadAllTextAsync(_a.DataDirectory.CaCertificatePath), await File.ReadAllTextAsync(_b.DataDirectory.CaCertificatePath));
        var adminA = AdminCredentials.Load(_a.DataDirectory.AdminCredentialsPath);
        var adminB = AdminCredentials.Load(_b.DataDirectory.AdminCredentialsPath);
        Assert.Equal((adminA.TenantId, adminA.ClientId, adminA.ClientSecret), (adminB.TenantId, adminB.ClientId, adminB.ClientSecret));
        Assert.Equal(_a.Bootstrap, _b.Bootstrap);

        using var ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(_a.DataDirectory.CaCertificatePath));
        using var leafA = await ServerCertificateAsync(_a.Options.Port, ca);
        using var leafB = await ServerCertificateAsync(_b.Options.Port, ca);
        Assert.NotEqual(leafA.Thumbprint, leafB.Thumbprint);
    }

    [Fact]
    public async Task Token_IssuedByOneReplica_IsAcceptedByTheOther()
    {
        var admin = AdminCredentials.Load(_a.DataDirectory.AdminCredentialsPath);
        var token = await TokenAsync(_a, admin);

        using var http = Client(_b, token);
        using var response = await http.GetAsync("subscriptions?api-version=2022-09-01");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(admin.SubscriptionId, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RotateSigningKey_OnOneReplica_IsSeenByTheOther()
    {
        var admin = AdminCredentials.Load(_a.DataDirectory.AdminCredentialsPath);
        using var adminA = Client(_a, await TokenAsync(_a, admin));
        using var rotate = await adminA.PostAsync("providers/Holdfast.Identity/rotateSigningKey?api-version=2025-01-01", null);
        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        var newKeyId = JsonNode.Parse(await rotate.Content.ReadAsStringAsync())!["activeKeyId"]!.GetValue<string>();

        // b follows by its watch; a token a signs with the new key then verifies on b.
        var token = await TokenAsync(_a, admin);
        using var http = Client(_b, token);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        HttpStatusCode status;
        do
        {
            using var response = await http.GetAsync("subscriptions?api-version=2022-09-01");
            status = response.StatusCode;
            if (status != HttpStatusCode.OK)
            {
                await Task.Delay(100);
            }
        }
        while (status != HttpStatusCode.OK && waited.Elapsed < TimeSpan.FromSeconds(20));

        Assert.Equal(HttpStatusCode.OK, status);
        using var listing = await http.GetAsync("providers/Holdfast.Identity/signingKeys?api-version=2025-01-01");
        Assert.Equal(newKeyId, JsonNode.Parse(await listing.Content.ReadAsStringAsync())!["activeKeyId"]!.GetValue<string>());
    }

    private async Task<RunningServer> StartAsync(IStateStore store, string name)
    {
        var directory = Path.Combine(_directory.Path, name);
        return await InProcessClients.StartOnFreePortAsync(port => HoldfastServer.StartAsync(
            new HoldfastServerOptions
            {
                DataDirectory = directory,
                Port = port,
                Endpoint = _endpoint,
                Throttle = new ThrottleOptions { Enabled = false },
                ClusterToken = Token,
            },
            DataDirectory.Open(directory),
            store,
            TimeProvider.System,
            null,
            CancellationToken.None));
    }

    private static HttpClient Client(RunningServer server, string? token)
    {
        var http = new HttpClient(InProcessClients.TrustingHandler(server)) { BaseAddress = new Uri($"https://localhost:{server.Options.Port}/"), Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return http;
    }

    private static async Task<string> TokenAsync(RunningServer server, AdminCredentials admin)
    {
        using var http = Client(server, null);
        using var response = await http.PostAsync($"{admin.TenantId}/oauth2/v2.0/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = admin.ClientId,
            ["client_secret"] = admin.ClientSecret,
            ["scope"] = server.Options.Audience + ".default",
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["access_token"]!.GetValue<string>();
    }

    /// <summary>The certificate the replica presents; the handshake fails unless it chains to <paramref name="ca"/>.</summary>
    private static async Task<X509Certificate2> ServerCertificateAsync(int port, X509Certificate2 ca)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var ssl = new SslStream(tcp.GetStream(), false, (_, certificate, _, errors) =>
            PinnedCa.Accepts(certificate, errors, ca));
        await ssl.AuthenticateAsClientAsync("localhost");
        return X509CertificateLoader.LoadCertificate(ssl.RemoteCertificate!.GetRawCertData());
    }
}
