using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Holdfast.Server.HaTests.Infrastructure;
using Holdfast.Server.HaTests.Workload;
using Holdfast.Server.IntegrationTests.Infrastructure;
using Holdfast.Testing;
using Xunit.Abstractions;

namespace Holdfast.Server.HaTests;

/// <summary>
/// A network partition with network namespaces (root, iproute2, python3 and curl needed; all on the CI machine): three
/// etcd members and one real server replica each in a namespace of its own on one bridge, the register workload in the
/// test process reaching the server through a Unix socket forwarded inside the server's namespace (no route from the
/// root namespace into any of them). The etcd leader, which is also the member the server talks to first, is cut off
/// from everyone under load, then healed.
/// </summary>
[Collection(HaCollection.Name)]
public sealed class NetworkPartitionTests(ITestOutputHelper output)
{
    private static readonly string[] EtcdRoles = ["a", "b", "c"];
    private const string ServerRole = "s";
    private const int ServerPort = 8443;

    [Fact]
    public async Task Writes_EtcdLeaderPartitionedAndHealed_NothingLostAndLinearizable()
    {
        using var directory = new TempDirectory();
        await using var lab = NetnsLab.Create([.. EtcdRoles, ServerRole]);
        var log = new StringBuilder();
        void Log(string line)
        {
            lock (log)
            {
                log.AppendLine(line);
            }
        }

        try
        {
            string initialCluster = string.Join(',', EtcdRoles.Select(r => $"{r}=http://{lab.Address(r)}:2380"));
            foreach (string role in EtcdRoles)
            {
                string ip = lab.Address(role);
                lab.Start(role, "/usr/bin/etcd", [
                    "--name", role, "--data-dir", directory.Combine(role + ".etcd"),
                    "--listen-client-urls", $"http://{ip}:2379", "--advertise-client-urls", $"http://{ip}:2379",
                    "--listen-peer-urls", $"http://{ip}:2380", "--initial-advertise-peer-urls", $"http://{ip}:2380",
                    "--initial-cluster", initialCluster, "--initial-cluster-token", "partition", "--initial-cluster-state", "new",
                    "--pre-vote=true", "--max-txn-ops=1024", "--logger=zap", "--log-level=warn",
                ], line => Log($"[etcd {role}] {line}"));
            }

            foreach (string role in EtcdRoles)
            {
                await WaitUntilAsync(async () => (await EtcdAsync(lab, role, "v3/kv/range", "{\"key\":\"AA==\",\"count_only\":true}")) is not null, $"etcd member {role} serving");
            }

            // The server talks to the leader first, so the cut also makes it time out and move to another member.
            string first = await FindLeaderAsync(lab);
            var endpoints = EtcdRoles.OrderBy(r => r == first ? 0 : 1).Select(r => $"{lab.Address(r)}:2379");

            // Environment (the cluster token) is inherited through ip netns exec.
            Environment.SetEnvironmentVariable("HOLDFAST_CLUSTER_TOKEN", "partition-" + Guid.NewGuid().ToString("N"));
            string dataDirectory = directory.Combine("server");
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var server = lab.Start(ServerRole, "dotnet", [
                HoldfastDll, "serve", "--data-dir", dataDirectory, "--port", ServerPort.ToString(CultureInfo.InvariantCulture), "--listen", "127.0.0.1",
                "--agent-port", "0", "--throttle", "off", "--simulated-hosts", "2", "--heartbeat-seconds", "1",
                "--store", "etcd://" + string.Join(',', endpoints),
            ], line =>
            {
                Log("[server] " + line);
                if (line.StartsWith("holdfast ready:", StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
            });
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));

            string socket = directory.Combine("server.sock");
            var forwarded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lab.Start(ServerRole, "/usr/bin/python3", [Path.Combine(AppContext.BaseDirectory, "Infrastructure", "unix-forward.py"), socket, "127.0.0.1", ServerPort.ToString(CultureInfo.InvariantCulture)], line =>
            {
                Log("[forward] " + line);
                if (line == "forwarding")
                {
                    forwarded.TrySetResult();
                }
            });
            await forwarded.Task.WaitAsync(TimeSpan.FromSeconds(15));

            var credentials = ServerProcess.LoadCredentials(Path.Combine(dataDirectory, "admin-credentials.json"));
            using var http = await HaCluster.SignedInClientAsync(credentials, socket);
            var workload = new RegisterWorkload(http, credentials.SubscriptionId);
            await workload.InitializeAsync();
            await UnderLoad.RunAndCheckAsync(workload, async () =>
            {
                string leader = await FindLeaderAsync(lab);
                output.WriteLine($"cut etcd leader {leader} ({lab.Address(leader)}; the server's first endpoint is {first}) off the bridge");
                lab.Cut(leader);
                await Task.Delay(TimeSpan.FromSeconds(6));
                lab.Heal(leader);
                output.WriteLine($"healed {leader}; leader now {await FindLeaderAsync(lab)}");
            }, output);
            await Placement.AssertEachVmPlacedOnceAsync(prefix => ReadStoreAsync(lab, prefix), workload, output);
            Assert.False(server.HasExited, "The server exited during the partition.");
        }
        catch
        {
            lock (log)
            {
                output.WriteLine(log.ToString());
            }

            throw;
        }
    }

    /// <summary>A POST to a member's gateway from inside the server's namespace (curl); null when it does not answer.</summary>
    private static async Task<JsonDocument?> EtcdAsync(NetnsLab lab, string role, string path, string body)
    {
        var (code, text) = await lab.RunAsync(ServerRole, "curl", "-s", "-m", "2", "-X", "POST", $"http://{lab.Address(role)}:2379/{path}", "-d", body);
        if (code != 0)
        {
            return null;
        }

        try
        {
            var document = JsonDocument.Parse(text);
            if (document.RootElement.TryGetProperty("header", out _))
            {
                return document;
            }

            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Every key under <paramref name="prefix"/> and its value, read from any member that answers (bounded).</summary>
    private static async Task<IReadOnlyList<(string Key, string Value)>> ReadStoreAsync(NetnsLab lab, string prefix)
    {
        byte[] start = Encoding.UTF8.GetBytes(prefix);
        byte[] end = [.. start];
        end[^1]++;
        string body = JsonSerializer.Serialize(new Dictionary<string, string> { ["key"] = Convert.ToBase64String(start), ["range_end"] = Convert.ToBase64String(end) });
        IReadOnlyList<(string Key, string Value)>? result = null;
        await WaitUntilAsync(async () =>
        {
            foreach (string role in EtcdRoles)
            {
                using var answer = await EtcdAsync(lab, role, "v3/kv/range", body);
                if (answer is not null)
                {
                    result = answer.RootElement.TryGetProperty("kvs", out var kvs)
                        ? [.. kvs.EnumerateArray().Select(kv => (Decode(kv.GetProperty("key")), kv.TryGetProperty("value", out var value) ? Decode(value) : string.Empty))]
                        : [];
                    return true;
                }
            }

            return false;
        }, "etcd member answering a range read");
        return result!;

        static string Decode(JsonElement base64) => Encoding.UTF8.GetString(Convert.FromBase64String(base64.GetString() ?? string.Empty));
    }

    private static async Task<string> FindLeaderAsync(NetnsLab lab)
    {
        string? leader = null;
        await WaitUntilAsync(async () =>
        {
            foreach (string role in EtcdRoles)
            {
                using var status = await EtcdAsync(lab, role, "v3/maintenance/status", "{}");
                if (status?.RootElement is { } root && root.TryGetProperty("leader", out var id) && id.GetString() == root.GetProperty("header").GetProperty("member_id").GetString())
                {
                    leader = role;
                    return true;
                }
            }

            return false;
        }, "an etcd leader");
        return leader!;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"No {what} within 30 s.");
            }

            await Task.Delay(200);
        }
    }

    private static string HoldfastDll
    {
        get
        {
            string configuration = typeof(NetworkPartitionTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Holdfast.slnx")))
            {
                root = root.Parent;
            }

            return Path.Combine(root?.FullName ?? throw new InvalidOperationException("No Holdfast.slnx above " + AppContext.BaseDirectory), "src", "Holdfast", "bin", configuration, "net10.0", "holdfast.dll");
        }
    }
}
