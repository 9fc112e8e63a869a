using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Holdfast.Commands.Cluster;

/// <summary>
/// The processes of <c>holdfast cluster up</c>: etcd members first (ready when a linearizable read answers), then the
/// first replica, then the others. Each child has a watchdog (<see cref="ChildProcess"/>) that stops it if this
/// process dies without stopping it, so no member or replica outlives a kill -9 of <c>cluster up</c>.
/// </summary>
internal sealed class LocalCluster(LocalClusterOptions options, TextWriter output) : IAsyncDisposable
{
    private static readonly TimeSpan EtcdReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ReplicaReadyTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(20);
    private readonly List<ChildProcess> _etcd = [];
    private readonly List<ChildProcess> _replicas = [];

    public async Task<int> RunAsync(CancellationToken stop)
    {
        try
        {
            Prepare();
            for (int i = 0; i < options.EtcdMembers; i++)
            {
                _etcd.Add(ChildProcess.Start($"etcd-m{i}", options.EtcdPath, EtcdArguments(i), options.LogDirectory, readyLine: null, output));
            }

            await Task.WhenAll(_etcd.Select((member, i) => WaitForEtcdAsync(member, options.EtcdClientPort(i), stop))).ConfigureAwait(false);

            // The first replica creates the install (CA, keys, admin credential); the others join what it made.
            _replicas.Add(StartReplica(0));
            await _replicas[0].WaitReadyAsync(ReplicaReadyTimeout, stop).ConfigureAwait(false);
            for (int j = 1; j < options.Replicas; j++)
            {
                _replicas.Add(StartReplica(j));
            }

            await Task.WhenAll(_replicas.Select(r => r.WaitReadyAsync(ReplicaReadyTimeout, stop))).ConfigureAwait(false);
            PrintReady();
            await Task.Delay(Timeout.Infinite, stop).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            output.WriteLine("holdfast cluster: stopping every replica and etcd member.");
            return 0;
        }
        catch (ClusterStartException ex)
        {
            Console.Error.WriteLine("holdfast cluster up: " + ex.Message);
            return 1;
        }
        finally
        {
            await StopAllAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAllAsync().ConfigureAwait(false);
        foreach (var child in _replicas.Concat(_etcd))
        {
            child.Dispose();
        }
    }

    private void Prepare()
    {
        Directory.CreateDirectory(options.LogDirectory);
        for (int j = 0; j < options.Replicas; j++)
        {
            Directory.CreateDirectory(options.ReplicaDataDirectory(j));
        }

        if (!File.Exists(options.TokenPath))
        {
            var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var stream = new FileStream(options.TokenPath, fileOptions);
            stream.Write(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + "\n"));
        }
    }

    private List<string> EtcdArguments(int member)
    {
        string Peer(int i) => $"http://127.0.0.1:{options.EtcdPeerPort(i)}";
        string client = $"http://127.0.0.1:{options.EtcdClientPort(member)}";
        return
        [
            "--name", $"m{member}",
            "--data-dir", options.EtcdDataDirectory(member),
            "--listen-client-urls", client,
            "--advertise-client-urls", client,
            "--listen-peer-urls", Peer(member),
            "--initial-advertise-peer-urls", Peer(member),
            "--initial-cluster", string.Join(',', Enumerable.Range(0, options.EtcdMembers).Select(i => $"m{i}={Peer(i)}")),
            "--initial-cluster-token", "holdfast-local",
            "--initial-cluster-state", "new",
            "--pre-vote=true",

            // Holdfast's transactions can hold more than etcd's default 128 operations (docs/designs/0006-etcd-store.md).
            "--max-txn-ops=1024",
            "--logger=zap",
            "--log-level=warn",
        ];
    }

    private ChildProcess StartReplica(int replica)
    {
        string port = options.ApiPort(replica).ToString(CultureInfo.InvariantCulture);
        var arguments = new List<string>
        {
            "serve",
            "--data-dir", options.ReplicaDataDirectory(replica),
            "--listen", "127.0.0.1",
            "--port", port,
            "--agent-port", options.AgentPort(replica).ToString(CultureInfo.InvariantCulture),
            "--store", options.StoreUrl,
            "--replica-id", $"r{replica + 1}",
            "--cluster-token-file", options.TokenPath,

            // One name for the cluster, as a load balancer's would be: tokens name it as their issuer, so a token from
            // any replica is accepted by every replica (clients still connect to each replica's own port).
            "--endpoint", options.ClusterEndpoint,
        };

        var (fileName, prefix) = HoldfastExecutable();
        return ChildProcess.Start($"replica-r{replica + 1}", fileName, [.. prefix, .. arguments], options.LogDirectory, line => line.StartsWith("holdfast ready:", StringComparison.Ordinal), output);
    }

    /// <summary>This executable: the apphost, or <c>dotnet holdfast.dll</c> when run that way.</summary>
    private static (string FileName, string[] Prefix) HoldfastExecutable()
    {
        var path = Environment.ProcessPath ?? throw new ClusterStartException("Cannot tell which executable this is.");
        return Path.GetFileNameWithoutExtension(path) == "dotnet"
            ? (path, [Path.Combine(AppContext.BaseDirectory, "holdfast.dll")])
            : (path, []);
    }

    private static async Task WaitForEtcdAsync(ChildProcess member, int clientPort, CancellationToken stop)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(1) }) { Timeout = TimeSpan.FromSeconds(2) };
        var waited = Stopwatch.StartNew();
        while (true)
        {
            member.ThrowIfExited();
            try
            {
                using var content = new StringContent("{\"key\":\"AA==\",\"count_only\":true}", Encoding.UTF8, "application/json");
                using var response = await http.PostAsync(new Uri($"http://127.0.0.1:{clientPort}/v3/kv/range"), content, stop).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !stop.IsCancellationRequested)
            {
                // Not listening yet, or no leader yet.
            }

            if (waited.Elapsed > EtcdReadyTimeout)
            {
                throw new ClusterStartException($"{member.Name} did not serve within {EtcdReadyTimeout.TotalSeconds:0} s; see {member.LogPath}.");
            }

            await Task.Delay(100, stop).ConfigureAwait(false);
        }
    }

    private void PrintReady()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"holdfast cluster ready: {options.EtcdMembers} etcd members, {options.Replicas} replicas (in {options.Directory})");
        for (int i = 0; i < options.EtcdMembers; i++)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  etcd m{i}: http://127.0.0.1:{options.EtcdClientPort(i)} (peer {options.EtcdPeerPort(i)}; data {options.EtcdDataDirectory(i)})");
        }

        for (int j = 0; j < options.Replicas; j++)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  replica r{j + 1}: https://localhost:{options.ApiPort(j)}/ (agents {options.AgentPort(j)}; data {options.ReplicaDataDirectory(j)})");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"  store: {options.StoreUrl}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  admin credentials: {Path.Combine(options.ReplicaDataDirectory(0), "admin-credentials.json")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  cluster token: {options.TokenPath}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  logs: {options.LogDirectory}");
        text.Append("Ctrl-C (or SIGTERM) stops every replica and etcd member.");
        output.WriteLine(text.ToString());
        output.Flush();
    }

    /// <summary>Replicas first (they write to etcd while they stop), then the members; each gets SIGTERM, then SIGKILL.</summary>
    private async Task StopAllAsync()
    {
        await Task.WhenAll(_replicas.Select(r => r.StopAsync(StopGrace))).ConfigureAwait(false);
        await Task.WhenAll(_etcd.Select(m => m.StopAsync(StopGrace))).ConfigureAwait(false);
    }
}

/// <summary>A child that failed to start; the message names its log.</summary>
internal sealed class ClusterStartException(string message) : Exception(message);
