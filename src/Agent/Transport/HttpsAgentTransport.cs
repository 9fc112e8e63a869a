using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;

namespace Holdfast.Agent.Transport;

/// <summary>
/// The agent's HTTPS client. The server certificate is trusted only if it chains to the site CA given by file (custom
/// root trust: the system store is never consulted) and names the host dialled; after join the client certificate
/// the CA issued is presented on every connection.
/// </summary>
public sealed class HttpsAgentTransport : IAgentTransport
{
    private readonly Uri _server;
    private readonly X509Certificate2 _ca;
    private readonly TimeSpan _timeout;
    private X509Certificate2? _clientCertificate;
    private HttpClient _client;

    public HttpsAgentTransport(Uri server, X509Certificate2 caCertificate, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(caCertificate);
        _server = server;
        _ca = caCertificate;
        _timeout = timeout;
        _client = CreateClient(null);
    }

    /// <summary>Loads the CA certificate (PEM) an agent trusts.</summary>
    public static X509Certificate2 LoadCaCertificate(string path) => X509Certificate2.CreateFromPem(File.ReadAllText(path));

    public Task<JoinResponse> JoinAsync(JoinRequest request, CancellationToken cancellationToken) => PostAsync<JoinRequest, JoinResponse>(Paths.Join, request, cancellationToken);

    public Task<SyncResponse> SyncAsync(SyncRequest request, CancellationToken cancellationToken) => PostAsync<SyncRequest, SyncResponse>(Paths.Sync, request, cancellationToken);

    public Task<RenewResponse> RenewAsync(RenewRequest request, CancellationToken cancellationToken) => PostAsync<RenewRequest, RenewResponse>(Paths.Renew, request, cancellationToken);

    public void UseClientCertificate(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        _clientCertificate = certificate;
        var previous = _client;
        _client = CreateClient(certificate);
        previous.Dispose();
    }

    public void Dispose() => _client.Dispose();

    /// <summary>
    /// Accepts a server certificate only when the platform found nothing wrong but the (expected) unknown root, and the
    /// chain built with <paramref name="ca"/> as the one trusted root succeeds.
    /// </summary>
    internal static bool ValidateServerCertificate(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2 ca)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    private HttpClient CreateClient(X509Certificate2? clientCertificate)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = _timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        var ca = _ca;
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => ValidateServerCertificate(certificate, errors, ca);
        handler.SslOptions.EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }

        return new HttpClient(handler) { BaseAddress = _server, Timeout = _timeout };
    }

    private async Task<TResponse> PostAsync<TRequest, TResponse>(string path, TRequest request, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(FabricJson.Serialize(request));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        HttpResponseMessage response;
        try
        {
            response = await _client.PostAsync(new Uri(path, UriKind.Relative), content, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new AgentTransportException($"Cannot reach {_server}: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new AgentTransportException($"{_server} did not answer within {_timeout.TotalSeconds:0} s.", ex);
        }

        using (response)
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var (code, message) = ReadError(body);
                throw new AgentTransportException((int)response.StatusCode, code, $"{path} answered {(int)response.StatusCode}: {message}");
            }

            try
            {
                return FabricJson.Deserialize<TResponse>(body);
            }
            catch (JsonException ex)
            {
                throw new AgentTransportException($"{path} answered with a body that is not a {typeof(TResponse).Name}: {ex.Message}", ex);
            }
        }
    }

    private static (string? Code, string Message) ReadError(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.TryGetProperty("error", out var error))
            {
                return (error.TryGetProperty("code", out var c) ? c.GetString() : null, error.TryGetProperty("message", out var m) ? m.GetString() ?? "" : "");
            }
        }
        catch (JsonException)
        {
            // Not an error envelope: report the status alone.
        }

        return (null, "(no error envelope)");
    }
}
