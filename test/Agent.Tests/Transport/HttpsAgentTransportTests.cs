using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Holdfast.Agent.Transport;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Identity.Certificates;

namespace Holdfast.Agent.Tests.Transport;

/// <summary>The agent's TLS trust against a real TLS listener: only the site CA given by file is trusted.</summary>
public sealed class HttpsAgentTransportTests : IDisposable
{
    private static readonly HostInventory Inventory = new(new CapacityVector(1, 1024, 1, 0), [], "simulated", true, "test");
    private readonly CertificateAuthority _siteCa = CertificateAuthority.Create("site-ca", TimeProvider.System.GetUtcNow(), TimeSpan.FromDays(10));
    private readonly CertificateAuthority _otherCa = CertificateAuthority.Create("other-ca", TimeProvider.System.GetUtcNow(), TimeSpan.FromDays(10));

    public void Dispose()
    {
        _siteCa.Dispose();
        _otherCa.Dispose();
    }

    [Fact]
    public async Task SyncAsync_ServerCertificateFromTheSiteCa_GetsTheAnswerAndPresentsTheClientCertificate()
    {
        using var serverCertificate = ServerCertificate(_siteCa);
        await using var server = TlsServer.Start(serverCertificate);
        using var transport = new HttpsAgentTransport(server.Endpoint, _siteCa.Certificate, TimeSpan.FromSeconds(30));
        using var client = _siteCa.IssueClientCertificate("host-1", TimeProvider.System.GetUtcNow(), TimeSpan.FromDays(1));
        transport.UseClientCertificate(client);

        var response = await transport.SyncAsync(new SyncRequest("host-1", "boot", Inventory, []), CancellationToken.None);

        Assert.Equal(HostState.InService, response.HostState);
        var seen = await server.ClientCertificate.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(client.Thumbprint, seen?.Thumbprint);
    }

    [Fact]
    public async Task SyncAsync_ServerCertificateFromAnotherCa_IsRefused()
    {
        using var serverCertificate = ServerCertificate(_otherCa);
        await using var server = TlsServer.Start(serverCertificate);
        using var transport = new HttpsAgentTransport(server.Endpoint, _siteCa.Certificate, TimeSpan.FromSeconds(30));

        var ex = await Assert.ThrowsAsync<AgentTransportException>(() => transport.SyncAsync(new SyncRequest("host-1", "boot", Inventory, []), CancellationToken.None));

        Assert.Null(ex.StatusCode);
    }

    [Fact]
    public void ValidateServerCertificate_NameMismatch_IsRefusedEvenFromTheSiteCa()
    {
        using var certificate = ServerCertificate(_siteCa);

        Assert.True(HttpsAgentTransport.ValidateServerCertificate(certificate, SslPolicyErrors.RemoteCertificateChainErrors, _siteCa.Certificate));
        Assert.False(HttpsAgentTransport.ValidateServerCertificate(certificate, SslPolicyErrors.RemoteCertificateNameMismatch, _siteCa.Certificate));
        Assert.False(HttpsAgentTransport.ValidateServerCertificate(certificate, SslPolicyErrors.None, _otherCa.Certificate));
        Assert.False(HttpsAgentTransport.ValidateServerCertificate(null, SslPolicyErrors.RemoteCertificateNotAvailable, _siteCa.Certificate));
    }

    private static X509Certificate2 ServerCertificate(CertificateAuthority ca)
    {
        using var issued = ca.IssueServerCertificate(["localhost"], [IPAddress.Loopback], TimeProvider.System.GetUtcNow(), TimeSpan.FromDays(1));
        return X509CertificateLoader.LoadPkcs12(issued.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>A one-connection HTTPS responder on 127.0.0.1 that answers any request with an InService sync response.</summary>
    private sealed class TlsServer : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly Task _serving;

        private TlsServer(X509Certificate2 certificate)
        {
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            Endpoint = new Uri($"https://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
            _serving = ServeAsync(certificate);
        }

        public Uri Endpoint { get; }

        public TaskCompletionSource<X509Certificate2?> ClientCertificate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public static TlsServer Start(X509Certificate2 certificate) => new(certificate);

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            try
            {
                await _serving;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException or System.Security.Authentication.AuthenticationException)
            {
                // The refused handshake ends the connection.
            }
        }

        private async Task ServeAsync(X509Certificate2 certificate)
        {
            using var tcp = await _listener.AcceptTcpClientAsync();
            await using var tls = new SslStream(tcp.GetStream());
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = certificate,
                ClientCertificateRequired = true,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null,
            });
            ClientCertificate.TrySetResult(tls.RemoteCertificate is null ? null : X509CertificateLoader.LoadCertificate(tls.RemoteCertificate.GetRawCertData()));
            var request = new List<byte>();
            var buffer = new byte[4096];
            int contentLength = -1, headerEnd = -1;
            while (headerEnd < 0 || request.Count < headerEnd + contentLength)
            {
                var read = await tls.ReadAsync(buffer);
                if (read == 0)
                {
                    return;
                }

                request.AddRange(buffer.AsSpan(0, read).ToArray());
                if (headerEnd < 0)
                {
                    var text = Encoding.ASCII.GetString([.. request]);
                    var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                    if (end >= 0)
                    {
                        headerEnd = end + 4;
                        var line = text[..end].Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                        contentLength = int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
            }

            var body = FabricJson.Serialize(new SyncResponse(HostState.InService, [], 5, 20));
            var head = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
            await tls.WriteAsync(head);
            await tls.WriteAsync(body);
            await tls.FlushAsync();
        }
    }
}
