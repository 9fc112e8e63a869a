using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Holdfast.Server.IntegrationTests.Infrastructure;
using Holdfast.Testing;

namespace Holdfast.Server.IntegrationTests.Hosting;

/// <summary>
/// <c>holdfast cluster up</c> as an operator runs it: three real etcd members and three real replicas on loopback;
/// every replica answers the admin over TLS; SIGTERM stops them all, and so does a kill -9 of <c>cluster up</c>
/// itself (through the children's watchdogs).
/// </summary>
public sealed class ClusterUpTests : IDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task ClusterUp_ThreeMembersThreeReplicas_OneTokenServesEveryReplicaAndSigtermStopsAll()
    {
        await using var cluster = await LocalClusterProcess.StartAsync(_directory.Combine("cluster"));

        var credentials = ServerProcess.LoadCredentials(cluster.AdminCredentialsPath);
        Assert.Equal(new Uri($"https://localhost:{cluster.BasePort + 20}/"), credentials.Endpoint);
        // One admin credential and one CA for all: the replicas share one install. A token is signed in at the last
        // replica and used at every replica: all tokens name the cluster's one endpoint as their issuer.
        string token = await Clients.TokenAsync(credentials with { Endpoint = new Uri($"https://localhost:{cluster.BasePort + 22}/") });
        for (int replica = 0; replica < 3; replica++)
        {
            var endpoint = new Uri($"https://localhost:{cluster.BasePort + 20 + replica}/");
            using var http = Clients.Http(credentials with { Endpoint = endpoint });
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            using var response = await http.GetAsync("holdfast/whoami");
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"replica r{replica + 1}: {(int)response.StatusCode} {body}\n{cluster.Output}");
            Assert.Contains(credentials.ObjectId, body, StringComparison.Ordinal);
        }

        Signal(cluster.Process.Id, "-TERM");
        using (var timeout = new CancellationTokenSource(StopTimeout))
        {
            await cluster.Process.WaitForExitAsync(timeout.Token);
        }

        Assert.True(cluster.Process.ExitCode == 0, cluster.Output);
        Assert.Empty(cluster.ListeningPorts());
    }

    [Fact]
    public async Task ClusterUp_KilledWithSigkill_ChildrenStopToo()
    {
        await using var cluster = await LocalClusterProcess.StartAsync(_directory.Combine("cluster"));
        Assert.NotEmpty(cluster.ListeningPorts());

        cluster.Process.Kill();
        var waited = Stopwatch.StartNew();
        while (cluster.ListeningPorts().Count > 0 && waited.Elapsed < StopTimeout)
        {
            await Task.Delay(250);
        }

        Assert.Empty(cluster.ListeningPorts());
    }

    private static void Signal(int processId, string signal)
    {
        using var kill = Process.Start("kill", [signal, processId.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>A running <c>holdfast cluster up</c>, ready; disposing kills it (and its watchdogs stop the rest).</summary>
    private sealed class LocalClusterProcess : IAsyncDisposable
    {
        private readonly List<string> _lines = [];

        private LocalClusterProcess(int basePort)
        {
            BasePort = basePort;
        }

        public int BasePort { get; }

        public Process Process { get; private set; } = null!;

        public string AdminCredentialsPath { get; private set; } = "";

        public string Output
        {
            get
            {
                lock (_lines)
                {
                    return string.Join('\n', _lines);
                }
            }
        }

        public static async Task<LocalClusterProcess> StartAsync(string directory)
        {
            var cluster = new LocalClusterProcess(FreePortBlock());
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            cluster.Process = ServerProcess.StartHoldfast(["cluster", "up", "--dir", directory, "--base-port", cluster.BasePort.ToString(CultureInfo.InvariantCulture)], line =>
            {
                lock (cluster._lines)
                {
                    cluster._lines.Add(line);
                }

                if (line.Trim().StartsWith("admin credentials: ", StringComparison.Ordinal))
                {
                    cluster.AdminCredentialsPath = line.Trim()["admin credentials: ".Length..];
                }

                if (line.StartsWith("Ctrl-C", StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
            });
            var first = await Task.WhenAny(ready.Task, cluster.Process.WaitForExitAsync(), Task.Delay(ReadyTimeout));
            if (first != ready.Task)
            {
                await cluster.DisposeAsync();
                throw new InvalidOperationException("holdfast cluster up did not become ready. Output:\n" + cluster.Output);
            }

            return cluster;
        }

        /// <summary>The cluster's ports (etcd clients and peers, replica APIs and agent ports) that still accept connections.</summary>
        public List<int> ListeningPorts()
        {
            var ports = new[] { 0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32 }.Select(offset => BasePort + offset);
            return ports.Where(port =>
            {
                using var client = new TcpClient();
                try
                {
                    client.Connect(IPAddress.Loopback, port);
                    return true;
                }
                catch (SocketException)
                {
                    return false;
                }
            }).ToList();
        }

        public async ValueTask DisposeAsync()
        {
            if (!Process.HasExited)
            {
                Process.Kill();
                await Process.WaitForExitAsync();
            }

            // The watchdogs stop the children within seconds; wait for that so no test leaves them running.
            var waited = Stopwatch.StartNew();
            while (ListeningPorts().Count > 0 && waited.Elapsed < StopTimeout)
            {
                await Task.Delay(250);
            }

            Process.Dispose();
        }

        /// <summary>A base port whose 40 ports are all free now (at random, so parallel runs rarely collide).</summary>
        private static int FreePortBlock()
        {
            for (int attempt = 0; ; attempt++)
            {
                int basePort = Random.Shared.Next(20_000, 40_000);
                if (Enumerable.Range(basePort, 40).All(IsFree) || attempt == 50)
                {
                    return basePort;
                }
            }
        }

        private static bool IsFree(int port)
        {
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }
    }
}
