using System.Diagnostics;
using System.Text.Json.Nodes;
using Azure;
using Azure.Core;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using Holdfast.Server.IntegrationTests.Infrastructure;
using Holdfast.Testing;

namespace Holdfast.Server.IntegrationTests.Cluster;

/// <summary>
/// Three real <c>holdfast serve</c> replicas on one real etcd member: one leader, kill -9 of it, another leads within
/// seconds, and the reconcilers run again on the new leader (a VM created through a follower reaches Succeeded on the
/// simulated fleet the leader runs). The replicas start from copies of one data directory, so they share the CA and
/// the signing keys.
/// </summary>
public sealed class ReplicaSetTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly AzureLocation Local = new("local");
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task ReplicaSet_LeaderKilled_AnotherLeadsAndReconcilesAVmCreatedThroughAFollower()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        string[] common = ["--store", $"etcd://127.0.0.1:{etcd.ClientPort}", "--throttle", "off", "--simulated-hosts", "4", "--heartbeat-seconds", "1"];
        await using var first = await ServerProcess.StartAsync(null, [.. common, "--replica-id", "r1"]);
        await using var second = await ServerProcess.StartAsync(CopyDataDirectory(first.DataDirectory), [.. common, "--replica-id", "r2"]);
        await using var third = await ServerProcess.StartAsync(CopyDataDirectory(first.DataDirectory), [.. common, "--replica-id", "r3"]);
        var replicas = new Dictionary<string, ServerProcess> { ["r1"] = first, ["r2"] = second, ["r3"] = third };

        // One leader, the same one seen from every replica, and all three registered.
        var leaderId = await WaitForLeaderAsync(second, except: null);
        foreach (var replica in replicas.Values)
        {
            var status = await StatusAsync(replica);
            Assert.Equal(leaderId, status["leader"]!["replica"]!.GetValue<string>());
            Assert.Equal("etcd", status["store"]!.GetValue<string>());
            Assert.Equal(3, status["replicas"]!.AsArray().Count);
        }

        var oldTerm = (await StatusAsync(second))["leader"]!["term"]!.GetValue<long>();
        var leader = replicas[leaderId];
        var followers = replicas.Where(p => p.Key != leaderId).Select(p => p.Value).ToList();

        leader.Kill();
        var failover = Stopwatch.StartNew();
        var newLeaderId = await WaitForLeaderAsync(followers[0], except: leaderId);
        failover.Stop();
        var newStatus = await StatusAsync(followers[1]);
        Assert.Equal(newLeaderId, newStatus["leader"]!["replica"]!.GetValue<string>());
        Assert.True(newStatus["leader"]!["term"]!.GetValue<long>() > oldTerm);
        Assert.DoesNotContain(newStatus["replicas"]!.AsArray(), r => r!["replica"]!.GetValue<string>() == leaderId);

        // A VM created through the replica that does not lead: placed and provisioned by the new leader's reconcilers.
        var through = followers.Single(f => f != replicas[newLeaderId]);
        var subscription = await Clients.Arm(through.Credentials).GetDefaultSubscriptionAsync();
        var group = (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, "after-failover", new ResourceGroupData(Local))).Value;
        using var deadline = new CancellationTokenSource(Patience);
        var vm = (await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "vm1", VmData(), deadline.Token)).Value;
        Assert.Equal("Succeeded", vm.Data.ProvisioningState);
        Assert.Contains((await vm.InstanceViewAsync(deadline.Token)).Value.Statuses, s => s.Code == "PowerState/running");

        // The old leader comes back as a follower: leadership does not move back.
        await leader.StartAsync();
        var status3 = await StatusAsync(leader);
        Assert.Equal(newLeaderId, status3["leader"]!["replica"]!.GetValue<string>());
        Assert.Equal(leaderId, status3["thisReplica"]!.GetValue<string>());
    }

    [Fact]
    public async Task ReplicaSet_LeaderStoppedCleanly_HandsOverWithoutWaitingForTheLease()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        // A long lease: only the revoke on a clean stop can hand over quickly.
        string[] common = ["--store", $"etcd://127.0.0.1:{etcd.ClientPort}", "--leader-lease-seconds", "30"];
        await using var first = await ServerProcess.StartAsync(null, [.. common, "--replica-id", "r1"]);
        await WaitForLeaderAsync(first, except: null);
        await using var second = await ServerProcess.StartAsync(CopyDataDirectory(first.DataDirectory), [.. common, "--replica-id", "r2"]);
        Assert.Equal("r1", (await StatusAsync(second))["leader"]!["replica"]!.GetValue<string>());

        await first.StopGracefullyAsync();

        var handedOver = Stopwatch.StartNew();
        Assert.Equal("r2", await WaitForLeaderAsync(second, except: "r1"));
        Assert.True(handedOver.Elapsed < TimeSpan.FromSeconds(20), $"Leadership moved after {handedOver.Elapsed}, not at once on the revoke (lease: 30 s).");
    }

    /// <summary>A copy of a replica's data directory without its store file and lock: the same CA, keys and credentials.</summary>
    private string CopyDataDirectory(string source)
    {
        var target = Path.Combine(_directory.Path, "replica-" + Guid.NewGuid().ToString("N")[..8]);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            if (relative.StartsWith("state.db", StringComparison.Ordinal) || Path.GetFileName(file) == "serve.lock")
            {
                continue;
            }

            var destination = Path.Combine(target, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(destination, File.GetUnixFileMode(file));
            }
        }

        foreach (var directory in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            if (!OperatingSystem.IsWindows())
            {
                var copy = Path.Combine(target, Path.GetRelativePath(source, directory));
                Directory.CreateDirectory(copy);
                File.SetUnixFileMode(copy, File.GetUnixFileMode(directory));
            }
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(target, File.GetUnixFileMode(source));
        }

        return target;
    }

    private static async Task<string> WaitForLeaderAsync(ServerProcess replica, string? except)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var status = await StatusAsync(replica);
            if (status["leader"]?["replica"]?.GetValue<string>() is { } leader && leader != except)
            {
                return leader;
            }

            Assert.True(waited.Elapsed < Patience, $"No new leader after {waited.Elapsed}: {status.ToJsonString()}");
            await Task.Delay(200);
        }
    }

    private static async Task<JsonObject> StatusAsync(ServerProcess replica)
    {
        using var http = await Clients.AuthenticatedHttpAsync(replica.Credentials);
        using var response = await http.GetAsync("providers/Holdfast.Cluster/status?api-version=2025-01-01");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private static VirtualMachineData VmData() => new(Local)
    {
        HardwareProfile = new VirtualMachineHardwareProfile { VmSize = new VirtualMachineSizeType("Standard_D2s_v3") },
        StorageProfile = new VirtualMachineStorageProfile
        {
            ImageReference = new ImageReference { Publisher = "Canonical", Offer = "0001-com-ubuntu-server-jammy", Sku = "22_04-lts-gen2", Version = "latest" },
            OSDisk = new VirtualMachineOSDisk(DiskCreateOptionType.FromImage),
        },
        OSProfile = new VirtualMachineOSProfile { ComputerName = "vm1", AdminUsername = "azureuser", AdminPassword = "Sdk-Passw0rd!" },
    };
}
