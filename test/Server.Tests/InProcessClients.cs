using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Holdfast.Server.Hosting;
using Holdfast.Testing;

namespace Holdfast.Server.Tests;

/// <summary>
/// Clients of a server started in-process: HTTPS trusting only the server's own CA (custom root trust, name checked),
/// signed in with client credentials at its token endpoint; and a free loopback port to start one on.
/// </summary>
internal static class InProcessClients
{
    public static HttpClientHandler TrustingHandler(RunningServer server)
    {
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(server.DataDirectory.CaCertificatePath));
        return new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, errors) => PinnedCa.Accepts(certificate, errors, ca),
        };
    }

    public static async Task<HttpClient> SignedInAsync(RunningServer server, string clientId, string secret)
    {
        var http = new HttpClient(TrustingHandler(server)) { BaseAddress = server.Options.ResolvedEndpoint, Timeout = TimeSpan.FromSeconds(60) };
        using var token = await http.PostAsync($"{server.Bootstrap.TenantId}/oauth2/v2.0/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId,
            ["client_secret"] = secret,
            ["scope"] = server.Options.Audience + ".default",
        }));
        var accessToken = JsonNode.Parse(await token.Content.ReadAsStringAsync())!["access_token"]!.GetValue<string>();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return http;
    }

    /// <summary>
    /// Starts the server in-process over TLS on <paramref name="store"/> (throttling off, a free port) and signs in as
    /// the bootstrap admin.
    /// </summary>
    public static async Task<(RunningServer Server, HttpClient Admin)> StartSignedInAsync(string dataDirectory, Holdfast.State.IStateStore store)
    {
        var server = await StartOnFreePortAsync(port => HoldfastServer.StartAsync(
            new HoldfastServerOptions { DataDirectory = dataDirectory, Port = port, Throttle = new ThrottleOptions { Enabled = false } },
            Bootstrap.DataDirectory.Open(dataDirectory),
            store,
            TimeProvider.System,
            null,
            CancellationToken.None));
        var admin = Bootstrap.AdminCredentials.Load(server.DataDirectory.AdminCredentialsPath);
        return (server, await SignedInAsync(server, admin.ClientId, admin.ClientSecret));
    }

    /// <summary>
    /// Starts a server on a free port, and on another when something else took the port between choosing and binding
    /// (an outgoing connection's ephemeral port, another test's server).
    /// </summary>
    public static async Task<RunningServer> StartOnFreePortAsync(Func<int, Task<RunningServer>> start)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await start(FreePort());
            }
            catch (Bootstrap.StartupException ex) when (attempt < 3 && ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                // Chosen again below.
            }
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
