using System.Net;
using Azure;
using Azure.Core;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using Holdfast.Server.IntegrationTests.Audit;
using Holdfast.Server.IntegrationTests.Infrastructure;
using Holdfast.State;
using Holdfast.State.Snapshots;
using Holdfast.State.Sqlite;
using Holdfast.Testing;

namespace Holdfast.Server.IntegrationTests.Hosting;

/// <summary>
/// A single-node install's resources, made with the official SDK on the real server, then <c>holdfast backup</c>
/// of the stopped install; the one snapshot file is restored (the real executable) into a fresh data directory and
/// into a real etcd, and servers started there serve the same resources.
/// </summary>
public sealed class BackupFixture : IAsyncLifetime
{
    private static readonly AzureLocation Local = new("local");

    public TempDirectory Directory { get; } = new();

    public string SourceDataDirectory { get; private set; } = null!;

    public string SourceStorePath => Directory.Combine("source-copy.db");

    public string SnapshotPath => Directory.Combine("install.snapshot");

    public string LiveSnapshotPath => Directory.Combine("live.snapshot");

    public ServerCredentials SourceCredentials { get; private set; } = null!;

    public string BackupOutput { get; private set; } = "";

    public async Task InitializeAsync()
    {
        SourceDataDirectory = Directory.Combine("source");
        await using var server = await ServerProcess.StartAsync(SourceDataDirectory, "--throttle", "off");
        SourceCredentials = server.Credentials;
        var subscription = await Clients.Arm(server.Credentials).GetDefaultSubscriptionAsync();
        var groupData = new ResourceGroupData(Local);
        groupData.Tags["kept"] = "through-restore";
        var group = (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, "backup-rg", groupData)).Value;
        await group.GetAvailabilitySets().CreateOrUpdateAsync(WaitUntil.Completed, "as1", new AvailabilitySetData(Local) { PlatformFaultDomainCount = 3, PlatformUpdateDomainCount = 7 });
        await group.GetManagedDisks().CreateOrUpdateAsync(WaitUntil.Completed, "data1", new ManagedDiskData(Local) { CreationData = new DiskCreationData(DiskCreateOption.Empty), DiskSizeGB = 48 });

        // The writes' activity-log records are chained before the stop, so the restored log has entries to verify.
        using var http = await Clients.AuthenticatedHttpAsync(server.Credentials);
        await ActivityLog.WaitForAsync(http, ActivityLog.Url(server.Credentials.SubscriptionId, ActivityLog.Filter()), events => events.Count >= 3);

        // One backup while the server runs (and writes: another group goes in as it is taken).
        var writing = subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, "during-backup", new ResourceGroupData(Local));
        var (liveExit, liveOutput) = await ServerProcess.RunToExitAsync("backup", "--data-dir", SourceDataDirectory, "--out", LiveSnapshotPath);
        Assert.True(liveExit == 0, liveOutput);
        await writing;
        server.Kill();

        var (exit, output) = await ServerProcess.RunToExitAsync("backup", "--data-dir", SourceDataDirectory, "--out", SnapshotPath);
        Assert.True(exit == 0, output);
        BackupOutput = output;

        // What the install held, kept for comparison (disposing the server deletes its data directory).
        SqliteStateStore.CopyConsistent(Path.Combine(SourceDataDirectory, "state.db"), SourceStorePath);
    }

    public Task DisposeAsync()
    {
        Directory.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class BackupRestoreTests(BackupFixture fixture) : IClassFixture<BackupFixture>
{
    [Fact]
    public void Backup_SqliteInstall_WritesOneOwnerOnlyFile()
    {
        Assert.Contains("sqlite store at revision", fixture.BackupOutput, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(fixture.SnapshotPath));
        }

        // No temp file or store copy left beside it.
        Assert.DoesNotContain(System.IO.Directory.EnumerateFiles(fixture.Directory.Path), path => Path.GetFileName(path).StartsWith("install.snapshot.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Restore_IntoFreshDataDirectory_ServerServesEverythingAndTheActivityLogVerifies()
    {
        var target = fixture.Directory.Combine("restored-" + Guid.NewGuid().ToString("N")[..6]);
        var (exit, output) = await ServerProcess.RunToExitAsync("restore", "--in", fixture.SnapshotPath, "--data-dir", target);
        Assert.True(exit == 0, output);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(target, "tls", "ca-key.pem")));
        }

        await using (var server = await ServerProcess.StartAsync(target, "--throttle", "off"))
        {
            // The same admin credential (its secret came with the snapshot), on the new server's port.
            Assert.Equal(fixture.SourceCredentials.ClientSecret, server.Credentials.ClientSecret);
            Assert.Equal(Path.Combine(target, "tls", "ca.pem"), server.Credentials.CaCertificatePath);
            await AssertResourcesAsync(server.Credentials with { Endpoint = new Uri($"https://localhost:{server.Port}/") });
            server.Kill();

            // Restoring again into the now used install is refused: restores go into empty stores only.
            var (again, refusal) = await ServerProcess.RunToExitAsync("restore", "--in", fixture.SnapshotPath, "--store", Path.Combine(target, "state.db"));
            Assert.True(again == 1, refusal);
            Assert.Contains("not empty", refusal, StringComparison.Ordinal);

            // So is writing secrets over a data directory that has them.
            var (over, overOutput) = await ServerProcess.RunToExitAsync("restore", "--in", fixture.SnapshotPath, "--data-dir", target, "--store", Path.Combine(target, "other.db"));
            Assert.True(over == 1, overOutput);
            Assert.Contains("already holds", overOutput, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(target, "other.db")));

            var (verify, verified) = await ServerProcess.RunToExitAsync("audit", "verify", "--data-dir", target);
            Assert.True(verify == 0, verified);
            Assert.Contains("intact", verified, StringComparison.Ordinal);
            Assert.DoesNotContain("last entry none", verified, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Restore_SqliteSnapshotIntoEtcd_ServerOnEtcdServesTheSameResources()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(fixture.Directory.Path);
        string store = $"etcd://127.0.0.1:{etcd.ClientPort}";
        var target = fixture.Directory.Combine("etcd-replica-" + Guid.NewGuid().ToString("N")[..6]);
        string[] token = await ClusterTokenArgumentsAsync(fixture.Directory);
        var (exit, output) = await ServerProcess.RunToExitAsync(["restore", "--in", fixture.SnapshotPath, "--store", store, "--data-dir", target, .. token]);
        Assert.True(exit == 0, output);

        // etcd → file → SQLite gives back exactly the keys the SQLite install had (lease-bound keys aside).
        var fromEtcd = fixture.Directory.Combine("from-etcd-" + Guid.NewGuid().ToString("N")[..6] + ".snapshot");
        var (backup, backedUp) = await ServerProcess.RunToExitAsync("backup", "--store", store, "--out", fromEtcd);
        Assert.True(backup == 0, backedUp);
        Assert.Contains("etcd store at revision", backedUp, StringComparison.Ordinal);
        var roundTrip = fixture.Directory.Combine("round-trip-" + Guid.NewGuid().ToString("N")[..6] + ".db");
        var (restore, restored) = await ServerProcess.RunToExitAsync("restore", "--in", fromEtcd, "--store", roundTrip);
        Assert.True(restore == 0, restored);
        // With a cluster token, restore also published the data directory's secrets (sealed) under /cluster/secrets/.
        var roundTripped = await ReadAllAsync(roundTrip);
        Assert.Equal(token.Length > 0 ? 4 : 0, roundTripped.Count(kv => kv.Key.StartsWith("/cluster/secrets/", StringComparison.Ordinal)));
        Assert.Equal(await ReadAllAsync(fixture.SourceStorePath), roundTripped.Where(kv => !kv.Key.StartsWith("/cluster/secrets/", StringComparison.Ordinal)).ToList());

        await using var server = await ServerProcess.StartAsync(target, ["--throttle", "off", "--store", store, .. token]);
        Assert.False(File.Exists(Path.Combine(target, "state.db")));
        await AssertResourcesAsync(server.Credentials with { Endpoint = new Uri($"https://localhost:{server.Port}/") });
    }

    [Fact]
    public async Task Backup_WhileServerRuns_RestoresTheStateAsOfOneRevision()
    {
        var restored = fixture.Directory.Combine("live-" + Guid.NewGuid().ToString("N")[..6] + ".db");
        var (exit, output) = await ServerProcess.RunToExitAsync("restore", "--in", fixture.LiveSnapshotPath, "--store", restored);
        Assert.True(exit == 0, output);

        var keys = (await ReadAllAsync(restored)).Select(kv => kv.Key).ToList();
        string groups = $"/groups/{fixture.SourceCredentials.SubscriptionId}/";
        Assert.Contains(groups + "backup-rg", keys);
        Assert.Contains($"/resources/{fixture.SourceCredentials.SubscriptionId}/backup-rg/microsoft.compute/availabilitysets/as1", keys);
        Assert.Contains("/bootstrap", keys);
    }

    [Fact]
    public async Task Restore_DamagedSnapshot_RefusedAndNothingWritten()
    {
        var damaged = fixture.Directory.Combine("damaged-" + Guid.NewGuid().ToString("N")[..6] + ".snapshot");
        var bytes = await File.ReadAllBytesAsync(fixture.SnapshotPath);
        bytes[bytes.Length / 2] ^= 0x20;
        await File.WriteAllBytesAsync(damaged, bytes);
        var target = fixture.Directory.Combine("never-" + Guid.NewGuid().ToString("N")[..6]);

        var (exit, output) = await ServerProcess.RunToExitAsync("restore", "--in", damaged, "--data-dir", target);

        Assert.True(exit == 1, output);
        Assert.Contains("damaged", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(target, "state.db")), "A store file was created for a damaged snapshot.");
        Assert.False(File.Exists(Path.Combine(target, "tls", "ca-key.pem")), "A secret was written from a damaged snapshot.");
    }

    [Fact]
    public async Task Restore_IntoNonEmptyEtcd_RefusedAndNothingWritten()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(fixture.Directory.Path);
        using var http = new HttpClient();
        using var put = await http.PostAsync(new Uri(etcd.ClientUrl, "v3/kv/put"), Clients.Json("""{"key":"L2FscmVhZHk=","value":"aGVyZQ=="}"""));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);

        var (exit, output) = await ServerProcess.RunToExitAsync("restore", "--in", fixture.SnapshotPath, "--store", $"etcd://127.0.0.1:{etcd.ClientPort}");

        Assert.True(exit == 1, output);
        Assert.Contains("/already", output, StringComparison.Ordinal);
        using var range = await http.PostAsync(new Uri(etcd.ClientUrl, "v3/kv/range"), Clients.Json("""{"key":"AA==","range_end":"AA==","count_only":true}"""));
        Assert.Contains("\"count\":\"1\"", await range.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>
    /// <c>--cluster-token-file</c> with a new token once <c>serve</c> has that flag (replicas on etcd then share the
    /// install's secrets through the store); before that, none, and the replica reads them from its data directory.
    /// </summary>
    private static async Task<string[]> ClusterTokenArgumentsAsync(TempDirectory directory)
    {
        var (_, help) = await ServerProcess.RunToExitAsync("serve", "--help");
        if (!help.Contains("--cluster-token-file", StringComparison.Ordinal))
        {
            return [];
        }

        var path = directory.Combine("cluster-token-" + Guid.NewGuid().ToString("N")[..6]);
        await File.WriteAllTextAsync(path, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        return ["--cluster-token-file", path];
    }

    private static async Task AssertResourcesAsync(ServerCredentials credentials)
    {
        var subscription = await Clients.Arm(credentials).GetDefaultSubscriptionAsync();
        var group = (await subscription.GetResourceGroups().GetAsync("backup-rg")).Value;
        Assert.Equal("through-restore", group.Data.Tags["kept"]);
        var set = (await group.GetAvailabilitySets().GetAsync("as1")).Value;
        Assert.Equal((3, 7), (set.Data.PlatformFaultDomainCount, set.Data.PlatformUpdateDomainCount));
        var disk = (await group.GetManagedDisks().GetAsync("data1")).Value;
        Assert.Equal(48, disk.Data.DiskSizeGB);
    }

    private static async Task<List<(string Key, string Value)>> ReadAllAsync(string path)
    {
        await using var store = await SqliteStateStore.OpenAsync(path, new SqliteStateStoreOptions { LeaseCheckInterval = TimeSpan.FromDays(1) }, TimeProvider.System, CancellationToken.None);
        var items = (await store.RangeAsync(new RangeRequest(""), CancellationToken.None)).Items;
        return items.Where(kv => !StoreSnapshot.IsSkipped(kv)).Select(kv => (kv.Key, Convert.ToBase64String(kv.Value.Span))).ToList();
    }
}
