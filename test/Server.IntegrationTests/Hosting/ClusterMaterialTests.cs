using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Server.IntegrationTests.Infrastructure;
using Holdfast.Testing;

namespace Holdfast.Server.IntegrationTests.Hosting;

/// <summary>
/// Replicas of one cluster (<c>serve --store etcd://…</c>, real etcd, real server processes) share the CA, the
/// token-signing keys and the bootstrap admin through the store, sealed under the cluster token; each still presents
/// its own server certificate. Both replicas stand behind one public endpoint, as behind a load balancer.
/// </summary>
public sealed class ClusterMaterialTests : IDisposable
{
    private const string PublicEndpoint = "https://holdfast-cluster.localhost/";
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Serve_TwoReplicasStartedAtOnceOnOneEtcd_ShareCaAdminAndTokensWithTheirOwnCertificates()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        string[] arguments = ["--store", $"etcd://127.0.0.1:{etcd.ClientPort}", "--endpoint", PublicEndpoint];
        var started = await Task.WhenAll(ServerProcess.StartAsync(null, arguments), ServerProcess.StartAsync(null, arguments));
        await using var a = started[0];
        await using var b = started[1];

        // One CA and one admin credential, whichever replica won the first start.
        Assert.Equal(await File.ReadAllTextAsync(a.Credentials.CaCertificatePath), await File.ReadAllTextAsync(b.Credentials.CaCertificatePath));
        Assert.Equal((a.Credentials.TenantId, a.Credentials.ClientId, a.Credentials.ClientSecret, a.Credentials.SubscriptionId), (b.Credentials.TenantId, b.Credentials.ClientId, b.Credentials.ClientSecret, b.Credentials.SubscriptionId));
        Assert.False(File.Exists(Path.Combine(a.DataDirectory, "tls", "ca-key.pem")), "A replica wrote the cluster CA's private key to disk.");

        // Each replica's own certificate, both issued by that CA.
        using var ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(a.Credentials.CaCertificatePath));
        using var certificateA = await ServerCertificateAsync(a.Port, ca);
        using var certificateB = await ServerCertificateAsync(b.Port, ca);
        Assert.NotEqual(certificateA.Thumbprint, certificateB.Thumbprint);

        // The admin credential signs in at either replica (the official SDK), and a token either issues works on the other.
        var viaA = Direct(a);
        var viaB = Direct(b);
        Assert.Equal(a.Credentials.SubscriptionId, (await Clients.Arm(viaB).GetDefaultSubscriptionAsync()).Data.SubscriptionId);
        Assert.Equal(HttpStatusCode.OK, await GetSubscriptionsAsync(viaB, await Clients.TokenAsync(viaA)));
        Assert.Equal(HttpStatusCode.OK, await GetSubscriptionsAsync(viaA, await Clients.TokenAsync(viaB)));

        // Not vacuous: b refuses a token that no key of the cluster signed.
        Assert.Equal(HttpStatusCode.Unauthorized, await GetSubscriptionsAsync(viaB, Tampered(await Clients.TokenAsync(viaA))));

        // A rotation on a reaches b through etcd's watch: b lists a's new key as active and accepts tokens it signs.
        using var adminA = await Clients.AuthenticatedHttpAsync(viaA);
        using var rotation = await adminA.PostAsync("providers/Holdfast.Identity/rotateSigningKey?api-version=2025-01-01", null);
        Assert.Equal(HttpStatusCode.OK, rotation.StatusCode);
        var newKeyId = System.Text.Json.Nodes.JsonNode.Parse(await rotation.Content.ReadAsStringAsync())!["activeKeyId"]!.GetValue<string>();
        var signedByNewKey = await Clients.TokenAsync(viaA);
        Assert.Contains(newKeyId, HeaderOf(signedByNewKey), StringComparison.Ordinal);
        using var adminB = Clients.Http(viaB);
        adminB.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", signedByNewKey);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        string? activeOnB = null;
        while (activeOnB != newKeyId && waited.Elapsed < TimeSpan.FromSeconds(30))
        {
            using var keys = await adminB.GetAsync("providers/Holdfast.Identity/signingKeys?api-version=2025-01-01");
            activeOnB = keys.StatusCode == HttpStatusCode.OK ? System.Text.Json.Nodes.JsonNode.Parse(await keys.Content.ReadAsStringAsync())!["activeKeyId"]!.GetValue<string>() : null;
            if (activeOnB != newKeyId)
            {
                await Task.Delay(100);
            }
        }

        Assert.Equal(newKeyId, activeOnB);
    }

    [Fact]
    public async Task Serve_EtcdWithoutClusterToken_RefusedWithAClearMessage()
    {
        var (exitCode, output) = await ServerProcess.RunToExitAsync(
            new Dictionary<string, string?> { ["HOLDFAST_CLUSTER_TOKEN"] = null },
            "serve", "--data-dir", ServerProcess.NewDataDirectory(), "--port", "18998", "--agent-port", "0", "--store", "etcd://127.0.0.1:1");

        Assert.Equal(2, exitCode);
        Assert.Contains("--cluster-token-file", output, StringComparison.Ordinal);
        Assert.Contains("HOLDFAST_CLUSTER_TOKEN", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_AnotherClustersToken_RefusedWithoutShowingEitherToken()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using (await ServerProcess.StartAsync(null, "--store", $"etcd://127.0.0.1:{etcd.ClientPort}"))
        {
        }

        var tokenFile = Path.Combine(_directory.Path, "other-token");
        await File.WriteAllTextAsync(tokenFile, "another-clusters-token-0123456789");
        var (exitCode, output) = await ServerProcess.RunToExitAsync(
            "serve", "--data-dir", ServerProcess.NewDataDirectory(), "--port", "18997", "--agent-port", "0", "--store", $"etcd://127.0.0.1:{etcd.ClientPort}", "--cluster-token-file", tokenFile);

        Assert.Equal(2, exitCode);
        Assert.Contains("cluster token does not decrypt", output, StringComparison.Ordinal);
        Assert.DoesNotContain("0123456789", output, StringComparison.Ordinal);
        Assert.DoesNotContain(ServerProcess.TestClusterToken, output, StringComparison.Ordinal);
    }

    /// <summary>The replica's credentials with its own address instead of the shared public endpoint.</summary>
    private static ServerCredentials Direct(ServerProcess server) => server.Credentials with { Endpoint = new Uri($"https://localhost:{server.Port}/") };

    private static async Task<HttpStatusCode> GetSubscriptionsAsync(ServerCredentials replica, string token)
    {
        using var http = Clients.Http(replica);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.GetAsync("subscriptions?api-version=2022-09-01");
        return response.StatusCode;
    }

    private static string HeaderOf(string token)
    {
        var header = token.Split('.')[0].Replace('-', '+').Replace('_', '/');
        return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(header.PadRight((header.Length + 3) / 4 * 4, '=')));
    }

    private static string Tampered(string token)
    {
        var parts = token.Split('.');
        var signature = parts[2].ToCharArray();
        signature[5] = signature[5] == 'A' ? 'B' : 'A';
        return $"{parts[0]}.{parts[1]}.{new string(signature)}";
    }

    /// <summary>The certificate the replica presents; the handshake fails unless it chains to <paramref name="ca"/> and names localhost.</summary>
    private static async Task<X509Certificate2> ServerCertificateAsync(int port, X509Certificate2 ca)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var ssl = new SslStream(tcp.GetStream(), false, PinnedCa.Validator(ca));
        await ssl.AuthenticateAsClientAsync("localhost");
        return X509CertificateLoader.LoadCertificate(ssl.RemoteCertificate!.GetRawCertData());
    }
}
