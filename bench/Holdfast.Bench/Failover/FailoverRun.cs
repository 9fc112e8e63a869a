using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Testing;

namespace Holdfast.Bench.Failover;

/// <summary>
/// <c>--failover N</c>: a local 3-member etcd cluster and 3 <c>holdfast serve</c> replicas on loopback. N times per
/// fault, kill -9 the leader replica (then, separately, the etcd leader) and time from the kill: the first write
/// (PUT of a new resource group, sent after the kill) that succeeds through a survivor, the status endpoint naming a
/// leader (for a replica kill: a new one, with a higher term), the status naming a leader whose leader-only services
/// (reconcilers, placement, healing) have started in its term (for a replica kill: a term above the killed leader's), and
/// a VM PUT right after the kill reaching <c>Succeeded</c>. The killed process is restarted between runs. With etcd
/// defaults and a 4 s and a 3 s leader lease, then tuned. Medians are printed.
/// </summary>
internal static class FailoverRun
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    public static TimeSpan Budget(BenchOptions options) => TimeSpan.FromSeconds(600 + (options.Failover * 6 * 75));

    private sealed record Config(string Name, string? HeartbeatMs, string? ElectionMs, int LeaseSeconds);

    /// <summary>One run; <paramref name="LeaderMoved"/>: the term whose singletons were seen started is not the one before the kill.</summary>
    private sealed record Sample(double WriteMs, double LeaderMs, double ReconcilersMs, bool LeaderMoved, double VmMs);

    public static async Task RunAsync(BenchOptions options, string holdfastDll, CancellationToken cancellationToken)
    {
        Config[] configs =
        [
            new("etcd defaults (heartbeat 100 ms, election 1000 ms), --leader-lease-seconds 4", null, null, 4),
            new("etcd defaults (heartbeat 100 ms, election 1000 ms), --leader-lease-seconds 3", null, null, 3),
            new("tuned: etcd --heartbeat-interval=50 --election-timeout=500, --leader-lease-seconds 2", "50", "500", 2),
        ];
        var summary = new List<string>();
        foreach (var config in configs)
        {
            // etcd reads ETCD_* variables for flags not given on its command line; the members inherit these.
            Environment.SetEnvironmentVariable("ETCD_HEARTBEAT_INTERVAL", config.HeartbeatMs);
            Environment.SetEnvironmentVariable("ETCD_ELECTION_TIMEOUT", config.ElectionMs);
            Console.WriteLine($"bench failover: {config.Name}: starting 3 etcd members and 3 replicas");
            await using var cluster = await FailoverCluster.StartAsync(holdfastDll, config.LeaseSeconds, cancellationToken).ConfigureAwait(false);
            double baseline = await cluster.VmToSucceededMsAsync(Stopwatch.StartNew(), cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"  no fault: a VM PUT to Succeeded in {baseline:0} ms");
            foreach (bool etcd in new[] { false, true })
            {
                string fault = etcd ? "kill -9 etcd leader" : "kill -9 leader replica";
                var samples = new List<Sample>();
                for (int run = 1; run <= options.Failover; run++)
                {
                    var sample = await cluster.MeasureAsync(etcd, cancellationToken).ConfigureAwait(false);
                    samples.Add(sample);
                    Console.WriteLine($"  {fault} run {run}: first write {sample.WriteMs:0} ms, leader known {sample.LeaderMs:0} ms, reconcilers running {sample.ReconcilersMs:0} ms{(sample.LeaderMoved ? " (new term)" : " (same term)")}, VM Succeeded {sample.VmMs:0} ms");
                }

                string line = string.Create(CultureInfo.InvariantCulture,
                    $"{config.Name} | {fault} | median first write {Median(samples, s => s.WriteMs):0} ms (max {samples.Max(s => s.WriteMs):0}) | leader known {Median(samples, s => s.LeaderMs):0} ms | reconcilers running {Median(samples, s => s.ReconcilersMs):0} ms (max {samples.Max(s => s.ReconcilersMs):0}; new term in {samples.Count(s => s.LeaderMoved)} of {samples.Count}) | VM created after the kill Succeeded {Median(samples, s => s.VmMs):0} ms (max {samples.Max(s => s.VmMs):0}) | no-fault VM {baseline:0} ms");
                Console.WriteLine("  " + line);
                summary.Add(line);
            }
        }

        Environment.SetEnvironmentVariable("ETCD_HEARTBEAT_INTERVAL", null);
        Environment.SetEnvironmentVariable("ETCD_ELECTION_TIMEOUT", null);
        Console.WriteLine($"bench failover: medians over {options.Failover} runs (targets: writes resume <= 3000 ms, reconcilers <= 5000 ms)");
        foreach (string line in summary)
        {
            Console.WriteLine("  " + line);
        }
    }

    private static double Median(List<Sample> samples, Func<Sample, double> value)
    {
        var sorted = samples.Select(value).Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>The etcd members, the replicas and a client spread over the replicas; everything is killed on dispose.</summary>
    private sealed class FailoverCluster : IAsyncDisposable
    {
        private const string SharedEndpoint = "https://localhost:1/";
        private static readonly HttpClient EtcdHttp = new(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(1) }) { Timeout = TimeSpan.FromSeconds(2) };
        private readonly string _directory;
        private readonly IReadOnlyList<EtcdProcess> _members;
        private readonly List<Replica> _replicas = [];
        private HttpClient _http = null!;
        private string _subscriptionId = null!;
        private int _sequence;

        private FailoverCluster(string directory, IReadOnlyList<EtcdProcess> members)
        {
            _directory = directory;
            _members = members;
        }

        public static async Task<FailoverCluster> StartAsync(string holdfastDll, int leaseSeconds, CancellationToken cancellationToken)
        {
            string directory = Path.Combine(Path.GetTempPath(), "holdfast-failover-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(directory);
            var members = await EtcdProcess.StartClusterAsync(directory, 3).ConfigureAwait(false);
            var cluster = new FailoverCluster(directory, members);
            try
            {
                string tokenFile = Path.Combine(directory, "cluster-token");
                await File.WriteAllTextAsync(tokenFile, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)), cancellationToken).ConfigureAwait(false);
                string store = "etcd://" + string.Join(',', members.Select(m => $"127.0.0.1:{m.ClientPort}"));
                for (int i = 0; i < 3; i++)
                {
                    var replica = new Replica($"r{i + 1}", Path.Combine(directory, $"r{i + 1}"), FreePort(), holdfastDll, store, tokenFile, leaseSeconds);
                    cluster._replicas.Add(replica);
                    await replica.StartAsync(cancellationToken).ConfigureAwait(false);
                }

                await cluster.SignInAsync(cancellationToken).ConfigureAwait(false);
                return cluster;
            }
            catch
            {
                await cluster.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        public async Task<Sample> MeasureAsync(bool etcd, CancellationToken cancellationToken)
        {
            var (leader, term) = await LeaderAsync(0, cancellationToken).ConfigureAwait(false);
            EtcdProcess? member = etcd ? await EtcdLeaderAsync(cancellationToken).ConfigureAwait(false) : null;
            var victim = _replicas.Single(r => r.Id == leader);
            var clock = Stopwatch.StartNew();
            if (member is not null)
            {
                member.Kill();
            }
            else
            {
                victim.Kill();
            }

            var write = FirstWriteMsAsync(clock, cancellationToken);
            var known = LeaderKnownMsAsync(clock, etcd ? 0 : term, cancellationToken);
            var vm = VmToSucceededMsAsync(clock, cancellationToken);
            var reconcilers = ReconcilersMsAsync(clock, etcd ? 0 : term, Task.WhenAll(write, vm), cancellationToken);
            var (reconcilersMs, reconcilersTerm) = await reconcilers.ConfigureAwait(false);
            var sample = new Sample(await write.ConfigureAwait(false), await known.ConfigureAwait(false), reconcilersMs, reconcilersTerm != term, await vm.ConfigureAwait(false));
            if (member is not null)
            {
                await member.StartAsync().ConfigureAwait(false);
            }
            else
            {
                await victim.StartAsync(cancellationToken).ConfigureAwait(false);
            }

            // The restarted process rejoins (a replica registers, a member catches up) before the next kill.
            await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
            return sample;
        }

        private async Task<double> FirstWriteMsAsync(Stopwatch clock, CancellationToken cancellationToken)
        {
            while (clock.Elapsed < Bound)
            {
                string name = $"fo-w{Interlocked.Increment(ref _sequence)}";
                if (await SendAsync(HttpMethod.Put, Group(name), new JsonObject { ["location"] = "local" }, cancellationToken).ConfigureAwait(false) is not null)
                {
                    return clock.Elapsed.TotalMilliseconds;
                }

                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }

            return double.NaN;
        }

        private async Task<double> LeaderKnownMsAsync(Stopwatch clock, long previousTerm, CancellationToken cancellationToken)
        {
            while (clock.Elapsed < Bound)
            {
                var status = await SendAsync(HttpMethod.Get, new Uri("providers/Holdfast.Cluster/status?api-version=2025-01-01", UriKind.Relative), null, cancellationToken).ConfigureAwait(false);
                if (status?["leader"] is JsonObject leader && leader["term"]!.GetValue<long>() > previousTerm)
                {
                    return clock.Elapsed.TotalMilliseconds;
                }

                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }

            return double.NaN;
        }

        /// <summary>
        /// The status endpoint naming a leader above <paramref name="previousTerm"/> with <c>singletonsStartedAt</c> set:
        /// ms on <paramref name="clock"/> when its term was first seen so, and that term. Asked until <paramref name="until"/>
        /// has completed too, so a term that replaces the first one seen (a leader that steps down during an etcd
        /// election) is the one timed.
        /// </summary>
        private async Task<(double Ms, long Term)> ReconcilersMsAsync(Stopwatch clock, long previousTerm, Task until, CancellationToken cancellationToken)
        {
            (double Ms, long Term) seen = (double.NaN, 0);
            while (clock.Elapsed < Bound)
            {
                var status = await SendAsync(HttpMethod.Get, new Uri("providers/Holdfast.Cluster/status?api-version=2025-01-01", UriKind.Relative), null, cancellationToken).ConfigureAwait(false);
                if (status?["leader"] is JsonObject leader && leader["singletonsStartedAt"] is not null && leader["term"]!.GetValue<long>() is var term && term > previousTerm && term != seen.Term)
                {
                    seen = (clock.Elapsed.TotalMilliseconds, term);
                }

                if (seen.Term != 0 && until.IsCompleted)
                {
                    return seen;
                }

                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }

            return seen;
        }

        /// <summary>PUT a new VM (retried until accepted), then GET until it is Succeeded: ms on <paramref name="clock"/>.</summary>
        public async Task<double> VmToSucceededMsAsync(Stopwatch clock, CancellationToken cancellationToken)
        {
            string name = $"fovm{Interlocked.Increment(ref _sequence)}";
            var body = new JsonObject
            {
                ["location"] = "local",
                ["properties"] = new JsonObject
                {
                    ["hardwareProfile"] = new JsonObject { ["vmSize"] = "Standard_B1s" },
                    ["osProfile"] = new JsonObject { ["computerName"] = name, ["adminUsername"] = "azureuser", ["adminPassword"] = "Fo-Passw0rd!" },
                },
            };
            while (await SendAsync(HttpMethod.Put, Vm(name), body, cancellationToken).ConfigureAwait(false) is null)
            {
                if (clock.Elapsed > Bound)
                {
                    return double.NaN;
                }

                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }

            while (clock.Elapsed < Bound)
            {
                var vm = await SendAsync(HttpMethod.Get, Vm(name), null, cancellationToken).ConfigureAwait(false);
                if (vm?["properties"]?["provisioningState"]?.GetValue<string>() == "Succeeded")
                {
                    return clock.Elapsed.TotalMilliseconds;
                }

                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }

            return double.NaN;
        }

        private async Task<(string Replica, long Term)> LeaderAsync(long previousTerm, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < Bound)
            {
                var status = await SendAsync(HttpMethod.Get, new Uri("providers/Holdfast.Cluster/status?api-version=2025-01-01", UriKind.Relative), null, cancellationToken).ConfigureAwait(false);
                if (status?["leader"] is JsonObject leader && leader["term"]!.GetValue<long>() > previousTerm)
                {
                    return (leader["replica"]!.GetValue<string>(), leader["term"]!.GetValue<long>());
                }

                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }

            throw new SetupException("No replica names a leader.");
        }

        private async Task<EtcdProcess> EtcdLeaderAsync(CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < Bound)
            {
                foreach (var member in _members)
                {
                    try
                    {
                        using var content = new StringContent("{}", Encoding.UTF8, "application/json");
                        using var response = await EtcdHttp.PostAsync(new Uri(member.ClientUrl, "v3/maintenance/status"), content, cancellationToken).ConfigureAwait(false);
                        var root = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false))!;
                        if (root["leader"]?.GetValue<string>() is { } id && id == root["header"]?["member_id"]?.GetValue<string>())
                        {
                            return member;
                        }
                    }
                    catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
                    {
                        // Down: the next member.
                    }
                }

                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }

            throw new SetupException("No etcd member reports itself leader.");
        }

        /// <summary>One request with a 1 s deadline: the parsed 2xx body, or null for any failure (connection, 5xx, timeout).</summary>
        private async Task<JsonNode?> SendAsync(HttpMethod method, Uri uri, JsonObject? body, CancellationToken cancellationToken)
        {
            using var request = new HttpRequestMessage(method, uri);
            if (body is not null)
            {
                request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            try
            {
                using var response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
                string text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                return response.IsSuccessStatusCode ? JsonNode.Parse(text.Length == 0 ? "{}" : text) : null;
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException && !cancellationToken.IsCancellationRequested)
            {
                return null;
            }
        }

        private Uri Group(string name) => new($"subscriptions/{_subscriptionId}/resourcegroups/{name}?api-version=2021-04-01", UriKind.Relative);

        private Uri Vm(string name) => new($"subscriptions/{_subscriptionId}/resourceGroups/fo-vms/providers/Microsoft.Compute/virtualMachines/{name}?api-version=2023-07-01", UriKind.Relative);

        /// <summary>A client over every replica (connections in turn; a refusing one is skipped), signed in as the admin.</summary>
        private async Task SignInAsync(CancellationToken cancellationToken)
        {
            var credentials = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(_replicas[0].DataDirectory, "admin-credentials.json"), cancellationToken).ConfigureAwait(false))!;
            string S(string name) => credentials[name]!.GetValue<string>();
            var ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(S("caCertificatePath"), cancellationToken).ConfigureAwait(false));
            int[] ports = [.. _replicas.Select(r => r.Port)];
            var handler = new SocketsHttpHandler
            {
                UseProxy = false,
                ConnectTimeout = TimeSpan.FromSeconds(1),
                PooledConnectionLifetime = TimeSpan.FromSeconds(5),
                SslOptions = new SslClientAuthenticationOptions
                {
                    RemoteCertificateValidationCallback = PinnedCa.Validator(ca),
                },
                ConnectCallback = ReplicaSpread.Connector(ports),
            };
            _http = new HttpClient(handler) { BaseAddress = new Uri(SharedEndpoint), Timeout = Timeout.InfiniteTimeSpan };
            _subscriptionId = S("subscriptionId");
            using var form = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = S("clientId"),
                ["client_secret"] = S("clientSecret"),
                ["scope"] = S("audience").TrimEnd('/') + "/.default",
            });
            using var response = await _http.PostAsync(new Uri($"{S("tenantId")}/oauth2/v2.0/token", UriKind.Relative), form, cancellationToken).ConfigureAwait(false);
            string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new SetupException($"Sign-in failed: {(int)response.StatusCode} {text}");
            }

            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", JsonNode.Parse(text)!["access_token"]!.GetValue<string>());
            await SetUpAsync(new Uri($"providers/Holdfast.Capacity/quotas/{_subscriptionId}?api-version=2025-01-01", UriKind.Relative),
                new JsonObject { ["properties"] = new JsonObject { ["totalRegionalVCpus"] = 10000, ["virtualMachines"] = 10000, ["families"] = new JsonObject { ["standardBSFamily"] = 10000 } } }, cancellationToken).ConfigureAwait(false);
            await SetUpAsync(Group("fo-vms"), new JsonObject { ["location"] = "local" }, cancellationToken).ConfigureAwait(false);
        }

        private async Task SetUpAsync(Uri uri, JsonObject body, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            while (await SendAsync(HttpMethod.Put, uri, body, cancellationToken).ConfigureAwait(false) is null)
            {
                if (clock.Elapsed > Bound)
                {
                    throw new SetupException($"PUT {uri} did not succeed within {Bound.TotalSeconds} s.");
                }

                await Task.Delay(200, cancellationToken).ConfigureAwait(false);
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var replica in _replicas)
            {
                replica.Kill();
            }

            foreach (var member in _members)
            {
                await member.DisposeAsync().ConfigureAwait(false);
            }

            _http?.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp directory is harmless.
            }
        }
    }

    /// <summary>One <c>holdfast serve</c> replica process; restartable on the same port and data directory.</summary>
    private sealed class Replica(string id, string dataDirectory, int port, string holdfastDll, string store, string tokenFile, int leaseSeconds)
    {
        private Process? _process;

        public string Id => id;

        public string DataDirectory => dataDirectory;

        public int Port => port;

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string argument in new[]
            {
                holdfastDll, "serve", "--data-dir", dataDirectory, "--port", port.ToString(CultureInfo.InvariantCulture), "--listen", "127.0.0.1",
                "--agent-port", "0", "--store", store, "--replica-id", id, "--endpoint", FailoverClusterEndpoint, "--cluster-token-file", tokenFile,
                "--leader-lease-seconds", leaseSeconds.ToString(CultureInfo.InvariantCulture), "--throttle", "off", "--simulated-hosts", "4", "--heartbeat-seconds", "1",
            })
            {
                info.ArgumentList.Add(argument);
            }

            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var tail = new Queue<string>();
            var process = new Process { StartInfo = info };
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    return;
                }

                lock (tail)
                {
                    tail.Enqueue(e.Data);
                    if (tail.Count > 20)
                    {
                        tail.Dequeue();
                    }
                }

                if (e.Data.StartsWith("holdfast ready:", StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
            };
            process.ErrorDataReceived += (_, _) => { };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _process = process;
            var first = await Task.WhenAny(ready.Task, process.WaitForExitAsync(cancellationToken), Task.Delay(TimeSpan.FromSeconds(90), cancellationToken)).ConfigureAwait(false);
            if (first != ready.Task)
            {
                Kill();
                lock (tail)
                {
                    throw new SetupException($"replica {id} did not become ready: {string.Join('\n', tail)}");
                }
            }
        }

        public void Kill()
        {
            if (_process is { } process)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(30_000);
                }
                catch (InvalidOperationException)
                {
                    // Already gone.
                }

                process.Dispose();
                _process = null;
            }
        }
    }

    private const string FailoverClusterEndpoint = "https://localhost:1/";
}
