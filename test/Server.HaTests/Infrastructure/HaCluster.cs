using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Holdfast.Server.IntegrationTests.Infrastructure;
using Holdfast.Testing;

namespace Holdfast.Server.HaTests.Infrastructure;

/// <summary>
/// A real 3-member etcd cluster on loopback and one (or more) real <c>holdfast serve --store etcd://a,b,c</c> replicas
/// on top of it, over TLS, each with its own data directory and <c>--replica-id</c>. Everything is killed on dispose.
/// </summary>
public sealed class HaCluster : IAsyncDisposable
{
    private static readonly HttpClient EtcdHttp = new(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(1) }) { Timeout = TimeSpan.FromSeconds(3) };
    private readonly TempDirectory _directory;

    private HaCluster(TempDirectory directory, IReadOnlyList<EtcdProcess> members, IReadOnlyList<ServerProcess> replicas)
    {
        _directory = directory;
        Members = members;
        Replicas = replicas;
    }

    public IReadOnlyList<EtcdProcess> Members { get; }

    /// <summary>The server replicas; replica i runs with <c>--replica-id r{i+1}</c>.</summary>
    public IReadOnlyList<ServerProcess> Replicas { get; }

    public ServerProcess Server => Replicas[0];

    public string Store => "etcd://" + string.Join(',', Members.Select(m => $"127.0.0.1:{m.ClientPort}"));

    public static async Task<HaCluster> StartAsync(int replicas = 1, params string[] serveArguments)
    {
        // The secrets shared through the store are sealed under the cluster token; a fixed one per process is enough here.
        Environment.SetEnvironmentVariable("HOLDFAST_CLUSTER_TOKEN", ClusterToken);
        var directory = new TempDirectory();
        var members = await EtcdProcess.StartClusterAsync(directory.Path, 3);
        try
        {
            string store = "etcd://" + string.Join(',', members.Select(m => $"127.0.0.1:{m.ClientPort}"));
            // Simulated hosts (simulated hardware) so VMs are placed. One after another: the first publishes the
            // cluster secrets, the others adopt them.
            var started = new List<ServerProcess>();
            try
            {
                for (int i = 0; i < replicas; i++)
                {
                    // Replicas share one public endpoint (as behind a load balancer): it is the tokens' issuer, so a
                    // token from one replica verifies on all. Clients reach them with SpreadClientAsync.
                    string[] identity = replicas == 1 ? [] : ["--replica-id", $"r{i + 1}", "--endpoint", SharedEndpoint];
                    started.Add(await ServerProcess.StartAsync(Path.Combine(directory.Path, i == 0 ? "server" : $"server{i + 1}"), ["--store", store, "--throttle", "off", "--simulated-hosts", "4", "--heartbeat-seconds", "1", .. identity, .. serveArguments]));
                }
            }
            catch
            {
                foreach (var server in started)
                {
                    await server.DisposeAsync();
                }

                throw;
            }

            return new HaCluster(directory, members, started);
        }
        catch
        {
            foreach (var member in members)
            {
                await member.DisposeAsync();
            }

            directory.Dispose();
            throw;
        }
    }

    /// <summary>The public endpoint every replica of a multi-replica cluster names (no process listens on its port).</summary>
    public const string SharedEndpoint = "https://localhost:1/";

    private static readonly string ClusterToken = "ha-tests-" + Guid.NewGuid().ToString("N");

    /// <summary>Every replica's leader-election log lines so far (elections, step-downs and their reasons), for failure messages.</summary>
    public string LeadershipLog() =>
        string.Join('\n', Replicas.SelectMany((replica, i) => replica.Output.Split('\n').Where(l => l.Contains("Cluster.LeaderElection", StringComparison.Ordinal)).Select(l => $"r{i + 1}: {l}")));

    /// <summary>The member that reports itself leader (asked of each member's maintenance status), bounded.</summary>
    public async Task<EtcdProcess> FindEtcdLeaderAsync()
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            foreach (var member in Members)
            {
                try
                {
                    using var content = new StringContent("{}", Encoding.UTF8, "application/json");
                    using var response = await EtcdHttp.PostAsync(new Uri(member.ClientUrl, "v3/maintenance/status"), content);
                    using var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                    var root = status.RootElement;
                    if (root.TryGetProperty("leader", out var leader) && leader.GetString() == root.GetProperty("header").GetProperty("member_id").GetString())
                    {
                        return member;
                    }
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException)
                {
                    // Down or not answering: ask the next one.
                }
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(15))
            {
                throw new TimeoutException("No etcd member reports itself as the leader.");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Every key under <paramref name="prefix"/> and its value as stored (a linearizable read from any live member), bounded.</summary>
    public async Task<IReadOnlyList<(string Key, string Value)>> ReadStoreAsync(string prefix)
    {
        byte[] start = Encoding.UTF8.GetBytes(prefix);
        byte[] end = [.. start];
        end[^1]++;
        string body = JsonSerializer.Serialize(new Dictionary<string, string> { ["key"] = Convert.ToBase64String(start), ["range_end"] = Convert.ToBase64String(end) });
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            foreach (var member in Members)
            {
                try
                {
                    using var content = new StringContent(body, Encoding.UTF8, "application/json");
                    using var response = await EtcdHttp.PostAsync(new Uri(member.ClientUrl, "v3/kv/range"), content);
                    if (!response.IsSuccessStatusCode)
                    {
                        continue;
                    }

                    using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                    return document.RootElement.TryGetProperty("kvs", out var kvs)
                        ? [.. kvs.EnumerateArray().Select(kv => (Decode(kv.GetProperty("key")), kv.TryGetProperty("value", out var value) ? Decode(value) : string.Empty))]
                        : [];
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    // Down: the next member.
                }
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(15))
            {
                throw new TimeoutException($"No etcd member answered a range read of {prefix}.");
            }

            await Task.Delay(100);
        }

        static string Decode(JsonElement base64) => Encoding.UTF8.GetString(Convert.FromBase64String(base64.GetString() ?? string.Empty));
    }

    /// <summary>
    /// A client trusting only the server's CA, signed in as the admin service principal. Connections are short-lived
    /// so a restarted server is reached again; the caller sets its own per-request deadlines.
    /// </summary>
    public Task<HttpClient> SignedInClientAsync() => SignedInClientAsync(Server.Credentials);

    /// <summary>
    /// A client whose connections are spread over every replica (a new connection goes to the next replica in turn;
    /// one that refuses is skipped, so nothing is sent to a dead replica). A request on a connection to a replica that
    /// dies has an unknown outcome, as for any client.
    /// </summary>
    public Task<HttpClient> SpreadClientAsync() => SignedInClientAsync(Server.Credentials, ports: [.. Replicas.Select(r => r.Port)]);

    /// <summary>
    /// The same for any server; with <paramref name="unixSocket"/>, every connection goes to that socket instead of the
    /// endpoint's host and port; with <paramref name="ports"/>, to those loopback ports in turn.
    /// </summary>
    public static async Task<HttpClient> SignedInClientAsync(ServerCredentials credentials, string? unixSocket = null, IReadOnlyList<int>? ports = null)
    {
        var ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(credentials.CaCertificatePath));
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PooledConnectionLifetime = TimeSpan.FromSeconds(5),
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = PinnedCa.Validator(ca),
            },
        };
        if (unixSocket is not null)
        {
            handler.ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(unixSocket), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }

        if (ports is not null)
        {
            handler.ConnectCallback = ReplicaSpread.Connector(ports);
        }

        var client = new HttpClient(handler) { BaseAddress = credentials.Endpoint, Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync(client, credentials));
        return client;
    }

    private static async Task<string> TokenAsync(HttpClient client, ServerCredentials credentials)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            using var form = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = credentials.ClientId,
                ["client_secret"] = credentials.ClientSecret,
                ["scope"] = credentials.Audience + "/.default",
            });
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                using var response = await client.PostAsync(new Uri(credentials.Endpoint, $"{credentials.TenantId}/oauth2/v2.0/token"), form, timeout.Token);
                string body = await response.Content.ReadAsStringAsync(timeout.Token);
                if (response.IsSuccessStatusCode)
                {
                    using var document = JsonDocument.Parse(body);
                    return document.RootElement.GetProperty("access_token").GetString()!;
                }

                if ((int)response.StatusCode < 500 || deadline.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new InvalidOperationException($"Sign-in failed: {(int)response.StatusCode} {body}");
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException && deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                // The store may be electing a leader; sign-in is retried until the deadline.
            }

            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in Replicas)
        {
            await replica.DisposeAsync();
        }

        foreach (var member in Members)
        {
            await member.DisposeAsync();
        }

        _directory.Dispose();
    }
}
