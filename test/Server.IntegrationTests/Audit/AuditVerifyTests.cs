using System.Net;
using Holdfast.Audit.Chain;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Audit;

/// <summary>
/// <c>holdfast audit verify</c> (the real executable) on a stopped server's data: intact logs pass; every kind of
/// tampering done directly on the SQLite file — edit, delete, reorder, insert, truncate without a checkpoint, and a
/// rewrite with recomputed hashes under a signed checkpoint — is named, with a non-zero exit.
/// </summary>
public sealed class AuditVerifyTests : IAsyncLifetime
{
    private const int Writes = 10;
    private ServerProcess _server = null!;

    public async Task InitializeAsync()
    {
        // A checkpoint every 4 entries, so the log has signed checkpoints and unsigned entries after the last one.
        _server = await ServerProcess.StartAsync(null, "--throttle", "off", "--audit-checkpoint-every", "4");
        using var http = await Clients.AuthenticatedHttpAsync(_server.Credentials);
        var correlations = new List<string>();
        for (var i = 0; i < Writes; i++)
        {
            var (status, correlation) = await ActivityLog.SendAsync(http, HttpMethod.Put, $"subscriptions/{_server.Credentials.SubscriptionId}/resourcegroups/verify-{i}?api-version=2022-09-01", """{"location":"local"}""");
            Assert.Equal(HttpStatusCode.Created, status);
            correlations.Add(correlation);
        }

        await ActivityLog.WaitForAsync(http, ActivityLog.Url(_server.Credentials.SubscriptionId, ActivityLog.Filter()), e => correlations.All(c => ActivityLog.WithCorrelation(e, c).Count == 1));
        _server.Kill();
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Verify_IntactLog_ExitsZero()
    {
        var (exit, output) = await VerifyAsync();
        Assert.True(exit == 0, output);
        Assert.Contains("intact", output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Verify_EditedEntry_NamesItAndFails()
    {
        using (var log = new StoredLog(_server.DataDirectory))
        {
            var entry = log.ReadEntry(6);
            log.WriteEntry(6, entry.Replace("resourceGroups/write", "resourceGroups/read", StringComparison.Ordinal));
        }

        await AssertFailsAsync("Edited", 6);
    }

    [Fact]
    public async Task Verify_RemovedEntry_NamesItAndFails()
    {
        using (var log = new StoredLog(_server.DataDirectory))
        {
            log.DeleteEntry(3);
        }

        await AssertFailsAsync("Removed", 3);
    }

    [Fact]
    public async Task Verify_ReorderedEntries_NamesThemAndFails()
    {
        using (var log = new StoredLog(_server.DataDirectory))
        {
            log.SwapEntries(5, 6);
        }

        await AssertFailsAsync("Reordered", 5);
    }

    [Fact]
    public async Task Verify_InsertedEntry_NamesItAndFails()
    {
        using (var log = new StoredLog(_server.DataDirectory))
        {
            // A forged entry between 4 and 5 that claims to follow 4, with a correct hash of its own.
            var fourth = AuditJson.DeserializeEntry(System.Text.Encoding.UTF8.GetBytes(log.ReadEntry(4)));
            var forged = AuditEntry.Create(
                new AuditRecord
                {
                    EventTimestamp = fourth.EventTimestamp,
                    TenantId = fourth.TenantId,
                    CallerAppId = fourth.CallerAppId,
                    CallerObjectId = fourth.CallerObjectId,
                    Operation = "Microsoft.Resources/subscriptions/resourceGroups/delete",
                    ResourceId = fourth.ResourceId,
                    Status = "Succeeded",
                    HttpStatusCode = 200,
                    CorrelationId = Guid.NewGuid().ToString(),
                },
                5,
                fourth.Hash);
            log.InsertAfter(4, System.Text.Encoding.UTF8.GetString(AuditJson.Serialize(forged)));
        }

        await AssertFailsAsync("Inserted", 5);
    }

    [Fact]
    public async Task Verify_TruncatedWithoutCheckpoint_NamesItAndFails()
    {
        using (var log = new StoredLog(_server.DataDirectory))
        {
            // No checkpoint covers entry 2 (they are at 4, 8, …), so cutting 1–2 is not a retention.
            log.DeleteEntry(1);
            log.DeleteEntry(2);
        }

        await AssertFailsAsync("TruncatedWithoutCheckpoint", 1);
    }

    [Fact]
    public async Task Verify_TruncatedExactlyAtACheckpoint_IsStillCaughtWithoutAnAnchor()
    {
        using (var log = new StoredLog(_server.DataDirectory))
        {
            var firstCheckpoint = long.Parse(log.Keys("/audit/checkpoints/")[0]["/audit/checkpoints/".Length..], System.Globalization.CultureInfo.InvariantCulture);
            for (var sequence = 1L; sequence <= firstCheckpoint; sequence++)
            {
                log.DeleteEntry(sequence);
            }
        }

        await AssertFailsAsync("TruncatedWithoutCheckpoint", 1);
    }

    [Fact]
    public async Task Verify_RewriteWithRecomputedHashes_IsCaughtByTheSignedCheckpoint()
    {
        long firstCheckpoint;
        using (var log = new StoredLog(_server.DataDirectory))
        {
            firstCheckpoint = long.Parse(log.Keys("/audit/checkpoints/")[0]["/audit/checkpoints/".Length..], System.Globalization.CultureInfo.InvariantCulture);

            // The insider rewrites entry 2 and recomputes every hash after it, so the chain itself is consistent.
            var previous = AuditEntry.GenesisHash;
            foreach (var sequence in log.Sequences())
            {
                var entry = AuditJson.DeserializeEntry(System.Text.Encoding.UTF8.GetBytes(log.ReadEntry(sequence)));
                var record = new AuditRecord
                {
                    EventTimestamp = entry.EventTimestamp,
                    TenantId = entry.TenantId,
                    CallerAppId = entry.Sequence == 2 ? Guid.NewGuid().ToString() : entry.CallerAppId,
                    CallerObjectId = entry.CallerObjectId,
                    Operation = entry.Operation,
                    ResourceId = entry.ResourceId,
                    SubscriptionId = entry.SubscriptionId,
                    ResourceGroupName = entry.ResourceGroupName,
                    Status = entry.Status,
                    SubStatus = entry.SubStatus,
                    HttpStatusCode = entry.HttpStatusCode,
                    CorrelationId = entry.CorrelationId,
                    ClientAddress = entry.ClientAddress,
                    Category = entry.Category,
                    Level = entry.Level,
                    Description = entry.Description,
                };
                var rewritten = AuditEntry.Create(record, entry.Sequence, previous);
                previous = rewritten.Hash;
                log.WriteEntry(sequence, System.Text.Encoding.UTF8.GetString(AuditJson.Serialize(rewritten)));
            }
        }

        await AssertFailsAsync("BadCheckpoint", firstCheckpoint);
    }

    [Fact]
    public async Task Verify_UnreadableRecord_FailsNamingTheKey()
    {
        string blockKey;
        using (var log = new StoredLog(_server.DataDirectory))
        {
            blockKey = log.RecordKeyOf(7);
            log.Write(blockKey, "{not json");
        }

        var (exit, output) = await VerifyAsync();
        Assert.True(exit == 1, output);
        Assert.Contains(blockKey, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_WhileServerRuns_RefusesClearly()
    {
        await _server.StartAsync();
        var (exit, output) = await VerifyAsync();
        Assert.True(exit == 2, output);
        Assert.Contains("running", output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Export_ThenVerifyTheFile_PassesPinnedAndCatchesTampering()
    {
        var export = Path.Combine(_server.DataDirectory, "..", Path.GetFileName(_server.DataDirectory) + "-export.jsonl");
        try
        {
            var (exportExit, exportOutput) = await ServerProcess.RunToExitAsync("audit", "export", "--data-dir", _server.DataDirectory, "--out", export);
            Assert.True(exportExit == 0, exportOutput);
            var publicKey = export + ".pub.pem";
            var (exit, output) = await ServerProcess.RunToExitAsync("audit", "verify", "--file", export, "--public-key", publicKey);
            Assert.True(exit == 0, output);
            Assert.DoesNotContain("not pinned", output, StringComparison.Ordinal);

            // A different pinned key: the file is not the site's.
            var otherKey = export + ".other.pem";
            using (var other = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256))
            {
                await File.WriteAllTextAsync(otherKey, other.ExportSubjectPublicKeyInfoPem());
            }

            var (untrustedExit, untrustedOutput) = await ServerProcess.RunToExitAsync("audit", "verify", "--file", export, "--public-key", otherKey);
            Assert.True(untrustedExit == 1, untrustedOutput);
            Assert.Contains("UntrustedKey", untrustedOutput, StringComparison.Ordinal);

            // One changed byte in an entry line.
            var lines = await File.ReadAllLinesAsync(export);
            var index = Array.FindIndex(lines, l => l.Contains("\"sequence\":3,", StringComparison.Ordinal));
            lines[index] = lines[index].Replace("resourceGroups/write", "resourceGroups/read", StringComparison.Ordinal);
            await File.WriteAllTextAsync(export, string.Join('\n', lines) + "\n");
            var (tamperedExit, tamperedOutput) = await ServerProcess.RunToExitAsync("audit", "verify", "--file", export, "--public-key", publicKey);
            Assert.True(tamperedExit == 1, tamperedOutput);
            Assert.Contains("Altered", tamperedOutput, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var file in Directory.EnumerateFiles(Path.GetDirectoryName(Path.GetFullPath(export))!, Path.GetFileName(export) + "*"))
            {
                File.Delete(file);
            }
        }
    }

    private Task<(int ExitCode, string Output)> VerifyAsync() =>
        ServerProcess.RunToExitAsync("audit", "verify", "--data-dir", _server.DataDirectory);

    private async Task AssertFailsAsync(string problem, long sequence)
    {
        var (exit, output) = await VerifyAsync();
        Assert.True(exit == 1, output);
        Assert.Contains($"FAILED ({problem}) at entry {sequence}", output, StringComparison.Ordinal);
    }
}
