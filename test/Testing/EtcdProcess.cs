using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Holdfast.Testing;

/// <summary>
/// A real etcd member (/usr/bin/etcd, Debian's etcd-server) on 127.0.0.1 with free client and peer ports and its own
/// data directory, fsync on (no unsafe flags: every test here may kill it and expect acknowledged writes back).
/// <see cref="Kill"/> is kill -9; <see cref="StartAsync()"/> starts it again on the same data directory and ports.
/// Every member still running when the test process exits is killed, so none outlives the run.
/// </summary>
public sealed class EtcdProcess : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);
    private static readonly List<Process> Running = [];
    private static readonly HttpClient Probe = new(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(1) }) { Timeout = TimeSpan.FromSeconds(2) };
    private readonly StringBuilder _output = new();
    private Process? _process;
    private EtcdServerTls? _tls;
    private HttpClient? _tlsProbe;

    static EtcdProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();

    private EtcdProcess(string name, string dataDirectory, int clientPort, int peerPort, string clusterToken)
    {
        Name = name;
        DataDirectory = dataDirectory;
        ClientPort = clientPort;
        PeerPort = peerPort;
        ClusterToken = clusterToken;
        InitialCluster = $"{name}={PeerUrl}";
    }

    public string Name { get; }

    public string DataDirectory { get; }

    public int ClientPort { get; }

    public int PeerPort { get; }

    public string ClusterToken { get; }

    public string InitialCluster { get; private set; }

    public Uri ClientUrl => new($"{(_tls is null ? "http" : "https")}://127.0.0.1:{ClientPort}/");

    public string PeerUrl => $"http://127.0.0.1:{PeerPort}";

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>A new single-member cluster under <paramref name="parentDirectory"/>, ready to serve.</summary>
    public static async Task<EtcdProcess> StartSingleAsync(string parentDirectory) =>
        (await StartClusterAsync(parentDirectory, 1))[0];

    /// <summary>
    /// A new cluster of <paramref name="size"/> members on loopback, every member ready to serve linearizable reads.
    /// A free port can be taken by someone else between choosing and binding it, so a start that fails on a bound
    /// address is tried again, on new ports and new data directories (at most three times).
    /// </summary>
    public static Task<IReadOnlyList<EtcdProcess>> StartClusterAsync(string parentDirectory, int size) =>
        StartClusterAsync(parentDirectory, size, null);

    /// <summary>A new single-member cluster whose client URL is https with <paramref name="tls"/>, ready to serve.</summary>
    public static async Task<EtcdProcess> StartSingleAsync(string parentDirectory, EtcdServerTls tls) =>
        (await StartClusterAsync(parentDirectory, 1, tls))[0];

    /// <summary>As <see cref="StartClusterAsync(string, int)"/>; with <paramref name="tls"/> the client URLs are https.</summary>
    public static async Task<IReadOnlyList<EtcdProcess>> StartClusterAsync(string parentDirectory, int size, EtcdServerTls? tls)
    {
        for (int attempt = 1; ; attempt++)
        {
            string token = "t" + Guid.NewGuid().ToString("N")[..12];
            var members = Enumerable.Range(0, size)
                .Select(i => new EtcdProcess($"m{i}", Path.Combine(parentDirectory, $"{token}-m{i}.etcd"), FreePort(), FreePort(), token))
                .ToList();
            string initialCluster = string.Join(',', members.Select(m => $"{m.Name}={m.PeerUrl}"));
            foreach (var member in members)
            {
                member.SetTls(tls);
                member.InitialCluster = initialCluster;
                member.Launch();
            }

            try
            {
                await Task.WhenAll(members.Select(m => m.WaitReadyAsync()));
                return members;
            }
            catch (InvalidOperationException) when (attempt < 3 && members.Any(m => m.Output.Contains("address already in use", StringComparison.Ordinal)))
            {
                members.ForEach(m => m.Kill());
            }
            catch
            {
                members.ForEach(m => m.Kill());
                throw;
            }
        }
    }

    /// <summary>Starts (or restarts, on the same data directory and ports) this member and waits until it serves.</summary>
    public async Task StartAsync()
    {
        Launch();
        await WaitReadyAsync();
    }

    /// <summary>SIGKILL: no shutdown, no flush — a power cut as the member sees it. Waits (bounded) for the exit.</summary>
    public void Kill()
    {
        if (_process is { } process)
        {
            KillAndForget(process);
            process.Dispose();
            _process = null;
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _tlsProbe?.Dispose();
        return ValueTask.CompletedTask;
    }

    private void Launch()
    {
        if (_process is not null)
        {
            throw new InvalidOperationException($"etcd member {Name} is already running.");
        }

        var info = new ProcessStartInfo("/usr/bin/etcd")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[]
        {
            "--name", Name,
            "--data-dir", DataDirectory,
            "--listen-client-urls", ClientUrl.GetLeftPart(UriPartial.Authority),
            "--advertise-client-urls", ClientUrl.GetLeftPart(UriPartial.Authority),
            "--listen-peer-urls", PeerUrl,
            "--initial-advertise-peer-urls", PeerUrl,
            "--initial-cluster", InitialCluster,
            "--initial-cluster-token", ClusterToken,
            "--initial-cluster-state", "new",

            // store-baselines.md §4/§8: without pre-vote a member that rejoins disrupts the cluster's leader.
            "--pre-vote=true",

            // Holdfast's transactions can hold more than etcd's default of 128 operations (the activity-log chainer
            // commits up to 256 records at once); docs/designs/0006-etcd-store.md asks operators for the same flag.
            "--max-txn-ops=1024",
            "--logger=zap",
            "--log-level=warn",
        })
        {
            info.ArgumentList.Add(argument);
        }

        if (_tls is { } tls)
        {
            foreach (string argument in new[] { "--cert-file", tls.CertFile, "--key-file", tls.KeyFile, "--trusted-ca-file", tls.TrustedCaFile, $"--client-cert-auth={tls.ClientCertAuth.ToString().ToLowerInvariant()}" })
            {
                info.ArgumentList.Add(argument);
            }
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        lock (Running)
        {
            Running.Add(process);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    /// <summary>Polls the member's own API (a linearizable read, which needs a leader) until it answers, bounded.</summary>
    private async Task WaitReadyAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process is not { HasExited: false })
            {
                throw new InvalidOperationException($"etcd member {Name} exited while starting. Output:\n{Output}");
            }

            try
            {
                using var content = new StringContent("{\"key\":\"AA==\",\"count_only\":true}", Encoding.UTF8, "application/json");
                using var response = await (_tlsProbe ?? Probe).PostAsync(new Uri(ClientUrl, "v3/kv/range"), content);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
                // Not listening or no leader yet.
            }

            if (deadline.Elapsed > ReadyTimeout)
            {
                Kill();
                throw new TimeoutException($"etcd member {Name} did not serve within {ReadyTimeout}. Output:\n{Output}");
            }

            await Task.Delay(50);
        }
    }

    private void SetTls(EtcdServerTls? tls)
    {
        _tls = tls;
        if (tls is not null)
        {
            // Readiness only: the probe accepts a server certificate issued by the member's own trusted CA (tests use one CA).
            string issuer = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(tls.TrustedCaFile).Subject;
            var handler = new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(1) };
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.Issuer == issuer;
            if (tls.ProbeClientCertificate is { } certificate)
            {
                handler.SslOptions.ClientCertificates = [certificate];
            }

            _tlsProbe = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(2) };
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private static void KillAndForget(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        lock (Running)
        {
            Running.Remove(process);
        }
    }

    private static void KillAll()
    {
        Process[] left;
        lock (Running)
        {
            left = [.. Running];
        }

        foreach (var process in left)
        {
            KillAndForget(process);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} (client {ClientPort}, peer {PeerPort})");
}

/// <summary>
/// TLS on an etcd member's client URL: its --cert-file/--key-file (PEM), --trusted-ca-file for client certificates and
/// --client-cert-auth. <see cref="ProbeClientCertificate"/> is what the readiness probe presents (needed with client-cert-auth).
/// </summary>
public sealed record EtcdServerTls(string CertFile, string KeyFile, string TrustedCaFile, bool ClientCertAuth, System.Security.Cryptography.X509Certificates.X509Certificate2? ProbeClientCertificate);
