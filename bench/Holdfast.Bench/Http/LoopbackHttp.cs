using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Holdfast.Bench.Http;

/// <summary>
/// HTTP/1.1 clients for the server under test. Every connection goes to 127.0.0.1 whatever the URL's host (the server's
/// endpoint is <c>https://localhost:{port}/</c>, and localhost may resolve to ::1 first), while TLS still checks the
/// name in the URL. The server certificate must chain to the data directory's CA alone (custom root trust, no system
/// roots) and carry the serverAuth usage.
/// </summary>
internal sealed class LoopbackHttp(X509Certificate2 certificateAuthority) : IDisposable
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    public static LoopbackHttp FromPemFile(string path)
    {
        try
        {
            return new LoopbackHttp(X509Certificate2.CreateFromPem(File.ReadAllText(path)));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new SetupException($"Cannot load the CA certificate '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// A client whose handler keeps up to <paramref name="connections"/> connections, so N workers each awaiting one
    /// request at a time use N connections. Requests must be sent with <see cref="NewRequest"/> (HTTP/1.1 exactly).
    /// </summary>
    public HttpClient CreateClient(int connections, string? bearerToken)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            ConnectCallback = ConnectLoopbackAsync,
            SslOptions = new SslClientAuthenticationOptions
            {
                ApplicationProtocols = [SslApplicationProtocol.Http11],
                RemoteCertificateValidationCallback = ValidateServerCertificate,
            },
        };
        var client = new HttpClient(handler, disposeHandler: true)
        {
            Timeout = TimeSpan.FromSeconds(30),
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (bearerToken is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearerToken);
        }

        return client;
    }

    public static HttpRequestMessage NewRequest(HttpMethod method, Uri uri) =>
        new(method, uri) { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

    /// <summary>Client credentials at the server's token endpoint, as an Azure SDK credential would ask for them.</summary>
    public async Task<string> GetTokenAsync(AdminCredentialsFile credentials, CancellationToken cancellationToken)
    {
        using var client = CreateClient(1, bearerToken: null);
        var uri = new Uri(new Uri(credentials.Endpoint), $"{credentials.TenantId}/oauth2/v2.0/token");
        using var request = NewRequest(HttpMethod.Post, uri);
        request.Content = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = credentials.ClientId,
            ["client_secret"] = credentials.ClientSecret,
            ["grant_type"] = "client_credentials",
            ["scope"] = credentials.Audience.TrimEnd('/') + "/.default",
        });
        try
        {
            using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new SetupException($"The token endpoint answered {(int)response.StatusCode}: {Truncate(body)}");
            }

            var token = JsonSerializer.Deserialize(body, BenchJsonContext.Default.TokenResponse)?.AccessToken;
            return string.IsNullOrEmpty(token) ? throw new SetupException($"The token response has no access_token: {Truncate(body)}") : token;
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new SetupException($"Getting a token from {uri} failed: {ex.Message}", ex);
        }
    }

    public void Dispose() => certificateAuthority.Dispose();

    internal static string Truncate(string text) => text.Length <= 300 ? text : text[..300] + "…";

    private static async ValueTask<Stream> ConnectLoopbackAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        if (!string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) && host != "127.0.0.1")
        {
            throw new HttpRequestException($"The bench only talks to 127.0.0.1; refusing to connect to '{host}'.");
        }

        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private bool ValidateServerCertificate(object sender, X509Certificate? certificate, X509Chain? presentedChain, SslPolicyErrors errors)
    {
        // Name mismatch or no certificate are fatal; chain errors are expected (the CA is in no system store) and are
        // decided by building the chain again against this CA only.
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(certificateAuthority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        if (presentedChain is not null)
        {
            foreach (var element in presentedChain.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        if (certificate is X509Certificate2 leaf)
        {
            return chain.Build(leaf);
        }

        using var copy = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(copy);
    }
}
