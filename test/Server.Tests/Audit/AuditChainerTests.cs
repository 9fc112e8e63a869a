using System.Text.Json;
using Holdfast.Audit.Chain;
using Holdfast.Audit.Verification;
using Holdfast.Providers.Framework;
using Holdfast.Server.Audit;
using Holdfast.State;
using Holdfast.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Holdfast.Server.Tests.Audit;

/// <summary>
/// The chainer against the in-memory store and a manual clock: commit order, no double chaining, resumption from the
/// head, checkpoints by count and on shutdown, and retention at a signed anchor that still verifies.
/// </summary>
public sealed class AuditChainerTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _directory = new();
    private readonly ManualTimeProvider _time = new(Start);
    private readonly InMemoryStateStore _store;
    private readonly AuditSigningKeys _keys;

    public AuditChainerTests()
    {
        _store = new InMemoryStateStore(_time);
        _keys = AuditSigningKeys.LoadOrCreate(_directory.Path);
    }

    public void Dispose()
    {
        _keys.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task DrainAsync_PendingRecords_ChainsThemInCommitOrderAndDeletesThem()
    {
        // Key order (a < b < c) differs from commit order (c, a, b): commit order wins.
        await PendAsync("c", "first");
        await PendAsync("a", "second");
        await PendAsync("b", "third");

        Assert.Equal(3, await Chainer().DrainAsync(CancellationToken.None));

        var content = await AuditLog.ReadAsync(_store, CancellationToken.None);
        Assert.Equal(["first", "second", "third"], content.Entries.Select(e => e.CorrelationId));
        Assert.Equal([1L, 2L, 3L], content.Entries.Select(e => e.Sequence));
        Assert.Empty((await _store.RangeAsync(new RangeRequest(AuditKeys.PendingPrefix), CancellationToken.None)).Items);
        Assert.True(Verify(content).IsIntact);
    }

    [Fact]
    public async Task DrainAsync_AgainAndByANewChainer_ChainsNothingTwiceAndResumesFromTheHead()
    {
        await PendAsync("a", "one");
        await Chainer().DrainAsync(CancellationToken.None);
        Assert.Equal(0, await Chainer().DrainAsync(CancellationToken.None));

        await PendAsync("b", "two");
        Assert.Equal(1, await Chainer().DrainAsync(CancellationToken.None));

        var content = await AuditLog.ReadAsync(_store, CancellationToken.None);
        Assert.Equal(["one", "two"], content.Entries.Select(e => e.CorrelationId));
        Assert.Equal(content.Entries[0].Hash, content.Entries[1].PreviousHash);
        Assert.True(Verify(content).IsIntact);
    }

    [Fact]
    public async Task DrainAsync_EveryNEntries_SignsACheckpoint()
    {
        var chainer = Chainer(new AuditOptions { CheckpointEveryEntries = 2 });
        for (var i = 0; i < 5; i++)
        {
            await PendAsync("r" + i, "c" + i);
            await chainer.DrainAsync(CancellationToken.None);
        }

        var content = await AuditLog.ReadAsync(_store, CancellationToken.None);
        Assert.Equal([2L, 4L], content.Checkpoints.Select(c => c.Sequence));
        var verification = Verify(content);
        Assert.True(verification.IsIntact);
        Assert.Equal(4, verification.LastCheckpointSequence);
    }

    [Fact]
    public async Task DrainAsync_OneBatchCrossingTheCount_SignsAtEachMultipleNotAtTheBatchEnd()
    {
        // Ten records chained in one batch: the checkpoints sit where the count is reached (4, 8), as they would if
        // the records had been chained one at a time, so where they sit does not depend on batching.
        for (var i = 0; i < 10; i++)
        {
            await PendAsync("r" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture), "c" + i);
        }

        Assert.Equal(10, await Chainer(new AuditOptions { CheckpointEveryEntries = 4 }).DrainAsync(CancellationToken.None));

        var content = await AuditLog.ReadAsync(_store, CancellationToken.None);
        Assert.Equal([4L, 8L], content.Checkpoints.Select(c => c.Sequence));
        var verification = Verify(content);
        Assert.True(verification.IsIntact, verification.Message);
        Assert.Equal(8, verification.LastCheckpointSequence);
    }

    [Fact]
    public async Task Running_RecordsPendedWhileItFollows_AreChainedInCommitOrder()
    {
        var chainer = Chainer(new AuditOptions { BatchWindow = TimeSpan.Zero });
        await chainer.StartAsync(CancellationToken.None);
        try
        {
            await PendAsync("c", "first");
            await PendAsync("a", "second");
            await PendAsync("b", "third");

            var content = await WaitForEntriesAsync(3);

            Assert.Equal(["first", "second", "third"], content.Entries.Select(e => e.CorrelationId));
            Assert.Empty((await _store.RangeAsync(new RangeRequest(AuditKeys.PendingPrefix), CancellationToken.None)).Items);
            Assert.True(Verify(content).IsIntact);
        }
        finally
        {
            await chainer.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Running_TwoChainersFollowingTheSameRecords_ChainEachExactlyOnce()
    {
        // Each one's followed set goes stale as the other chains: the per-record compares must catch it every time.
        var first = Chainer(new AuditOptions { BatchWindow = TimeSpan.Zero });
        var second = Chainer(new AuditOptions { BatchWindow = TimeSpan.Zero });
        await first.StartAsync(CancellationToken.None);
        await second.StartAsync(CancellationToken.None);
        try
        {
            for (int i = 0; i < 60; i++)
            {
                await PendAsync($"r{i:D3}", $"c{i:D3}");
            }

            var content = await WaitForEntriesAsync(60);

            Assert.Equal(Enumerable.Range(0, 60).Select(i => $"c{i:D3}"), content.Entries.Select(e => e.CorrelationId));
            Assert.True(Verify(content).IsIntact);
        }
        finally
        {
            await first.StopAsync(CancellationToken.None);
            await second.StopAsync(CancellationToken.None);
        }

        Assert.Equal(60, (await AuditLog.ReadAsync(_store, CancellationToken.None)).Entries.Count);
    }

    [Fact]
    public async Task StopAsync_ChainsWhatIsLeftAndSignsTheLastEntry()
    {
        var chainer = Chainer();
        await PendAsync("a", "one");
        await PendAsync("b", "two");

        await chainer.StopAsync(CancellationToken.None);

        var content = await AuditLog.ReadAsync(_store, CancellationToken.None);
        Assert.Equal(2, content.Entries.Count);
        Assert.Equal(2, Assert.Single(content.Checkpoints).Sequence);
        Assert.Equal(2, Verify(content).LastCheckpointSequence);
    }

    [Fact]
    public async Task DrainAsync_UnreadablePendingRecord_IsChainedAsEvidenceNotDropped()
    {
        await _store.PutAsync(AuditKeys.Pending("broken"), "{not json"u8.ToArray(), null, CancellationToken.None);

        await Chainer().DrainAsync(CancellationToken.None);

        var entry = Assert.Single((await AuditLog.ReadAsync(_store, CancellationToken.None)).Entries);
        Assert.Equal(AuditLevels.Critical, entry.Level);
        Assert.Equal(AuditKeys.Pending("broken"), entry.ResourceId);
    }

    [Fact]
    public async Task ApplyRetentionAsync_OldEntries_AreTruncatedAtASignedAnchorAndTheLogStillVerifies()
    {
        var options = new AuditOptions { Retention = TimeSpan.FromDays(1), CheckpointEveryEntries = 2 };
        var chainer = Chainer(options);
        for (var i = 0; i < 3; i++)
        {
            await PendAsync("old" + i, "old" + i);
        }

        await chainer.DrainAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromDays(2));
        await PendAsync("new", "new");
        await chainer.DrainAsync(CancellationToken.None);

        await chainer.ApplyRetentionAsync(CancellationToken.None);

        var content = await AuditLog.ReadAsync(_store, CancellationToken.None);
        Assert.Equal(["new"], content.Entries.Select(e => e.CorrelationId));
        Assert.NotNull(content.Anchor);
        Assert.Equal(3, content.Anchor.Sequence);
        Assert.DoesNotContain(content.Checkpoints, c => c.Sequence < 3);
        Assert.True(content.Anchor.VerifySignature(_keys.Find(content.Anchor.KeyId)!));
        var verification = Verify(content);
        Assert.True(verification.IsIntact, verification.Message);

        // The chain carries on after the anchor, and cutting what the anchor does not cover is still caught.
        await PendAsync("later", "later");
        await chainer.DrainAsync(CancellationToken.None);
        content = await AuditLog.ReadAsync(_store, CancellationToken.None);
        Assert.True(Verify(content).IsIntact);
        var truncated = Verify(content with { Entries = content.Entries.Skip(1).ToList() });
        Assert.False(truncated.IsIntact);
    }

    [Fact]
    public async Task ApplyRetentionAsync_DamagedLog_IsNeverAnchored()
    {
        var chainer = Chainer(new AuditOptions { Retention = TimeSpan.FromDays(1) });
        await PendAsync("a", "one");
        await PendAsync("b", "two");
        await chainer.DrainAsync(CancellationToken.None);
        var block = AuditJson.DeserializeBlock((await _store.GetAsync(AuditKeys.Block(2), CancellationToken.None))!.Value.Span);
        var edited = block with { Entries = [block.Entries[0] with { CallerAppId = "someone-else" }, block.Entries[1]] };
        await _store.PutAsync(AuditKeys.Block(2), AuditJson.Serialize(edited), null, CancellationToken.None);
        _time.Advance(TimeSpan.FromDays(2));

        await chainer.ApplyRetentionAsync(CancellationToken.None);

        Assert.Null(await _store.GetAsync(AuditKeys.Anchor, CancellationToken.None));
        Assert.Equal(2, (await AuditLog.ReadAsync(_store, CancellationToken.None)).Entries.Count);
    }

    [Fact]
    public async Task DrainAsync_EachBatch_IsStoredAsOneBlockKeyedByItsLastSequence()
    {
        var chainer = Chainer();
        await PendAsync("a", "one");
        await PendAsync("b", "two");
        await PendAsync("c", "three");
        await chainer.DrainAsync(CancellationToken.None);
        await PendAsync("d", "four");
        await PendAsync("e", "five");
        await chainer.DrainAsync(CancellationToken.None);

        var blocks = (await _store.RangeAsync(new RangeRequest(AuditKeys.BlocksPrefix), CancellationToken.None)).Items;
        Assert.Equal([AuditKeys.Block(3), AuditKeys.Block(5)], blocks.Select(kv => kv.Key));
        Assert.Equal([1L, 2L, 3L], AuditJson.DeserializeBlock(blocks[0].Value.Span).Entries.Select(e => e.Sequence));
        Assert.Equal(["four", "five"], AuditJson.DeserializeBlock(blocks[1].Value.Span).Entries.Select(e => e.CorrelationId));
        Assert.Empty((await _store.RangeAsync(new RangeRequest(AuditKeys.EntriesPrefix), CancellationToken.None)).Items);
        Assert.True(Verify(await AuditLog.ReadAsync(_store, CancellationToken.None)).IsIntact);
    }

    [Fact]
    public async Task DrainAsync_AfterEntriesStoredSinglyBeforeBlocks_ContinuesTheChainAndRetentionRemovesThem()
    {
        // A log written before blocks: one key per entry, and the head at its last entry.
        var previous = AuditEntry.GenesisHash;
        for (var sequence = 1L; sequence <= 2; sequence++)
        {
            var entry = AuditEntry.Create(Record("old" + sequence), sequence, previous);
            previous = entry.Hash;
            await _store.PutAsync(AuditKeys.Entry(sequence), AuditJson.Serialize(entry), null, CancellationToken.None);
        }

        await _store.PutAsync(AuditKeys.Head, JsonSerializer.SerializeToUtf8Bytes(new AuditHead { Sequence = 2, Hash = previous }, AuditServerJson.Default.AuditHead), null, CancellationToken.None);
        var chainer = Chainer(new AuditOptions { Retention = TimeSpan.FromDays(1) });
        _time.Advance(TimeSpan.FromDays(2));
        await PendAsync("n", "new");
        await chainer.DrainAsync(CancellationToken.None);

        var content = await AuditLog.ReadAsync(_store, CancellationToken.None);
        Assert.Equal(["old1", "old2", "new"], content.Entries.Select(e => e.CorrelationId));
        Assert.True(Verify(content).IsIntact, Verify(content).Message);

        await chainer.ApplyRetentionAsync(CancellationToken.None);

        content = await AuditLog.ReadAsync(_store, CancellationToken.None);
        Assert.Equal(["new"], content.Entries.Select(e => e.CorrelationId));
        Assert.Equal(2, content.Anchor?.Sequence);
        Assert.Empty((await _store.RangeAsync(new RangeRequest(AuditKeys.EntriesPrefix), CancellationToken.None)).Items);
        Assert.True(Verify(content).IsIntact, Verify(content).Message);
    }

    [Fact]
    public async Task ReadAsync_SingleEntriesChainedBetweenBlocks_ReadsInSequenceOrderAndVerifies()
    {
        // A rolling upgrade: an old-release leader (schema 1), a new one (blocks), the old one again, the new one again.
        var schemas = new[] { 1, 2, 1, 2 };
        for (var step = 0; step < schemas.Length; step++)
        {
            await PendAsync($"r{step}a", $"{step}a");
            await PendAsync($"r{step}b", $"{step}b");
            await Chainer(auditLogSchema: schemas[step]).DrainAsync(CancellationToken.None);
        }

        var content = await AuditLog.ReadAsync(_store, CancellationToken.None);

        Assert.Equal(["0a", "0b", "1a", "1b", "2a", "2b", "3a", "3b"], content.Entries.Select(e => e.CorrelationId));
        Assert.Equal(4, (await _store.RangeAsync(new RangeRequest(AuditKeys.EntriesPrefix), CancellationToken.None)).Items.Count);
        Assert.Equal([AuditKeys.Block(4), AuditKeys.Block(8)], (await _store.RangeAsync(new RangeRequest(AuditKeys.BlocksPrefix), CancellationToken.None)).Items.Select(kv => kv.Key));
        Assert.True(Verify(content).IsIntact, Verify(content).Message);
    }

    [Fact]
    public async Task ApplyRetentionAsync_BlockStraddlingTheCutoff_IsKeptWhole()
    {
        var chainer = Chainer(new AuditOptions { Retention = TimeSpan.FromDays(1) });
        await PendAsync("a", "old");
        _time.Advance(TimeSpan.FromDays(2));
        await PendAsync("b", "new");
        await chainer.DrainAsync(CancellationToken.None);

        await chainer.ApplyRetentionAsync(CancellationToken.None);

        var content = await AuditLog.ReadAsync(_store, CancellationToken.None);
        Assert.Equal(["old", "new"], content.Entries.Select(e => e.CorrelationId));
        Assert.Null(content.Anchor);
    }

    private AuditChainer Chainer(AuditOptions? options = null, int auditLogSchema = 2) =>
        new(_store, _keys, new AuditChainSignal(), Levels(auditLogSchema), new HoldfastServerOptions { DataDirectory = _directory.Path, Audit = options ?? new AuditOptions() }, _time, NullLogger<AuditChainer>.Instance);

    /// <summary>Write levels as a cluster whose every replica reads the activity log at <paramref name="auditLogSchema"/> gives.</summary>
    private static SchemaLevels Levels(int auditLogSchema)
    {
        var levels = new SchemaLevels();
        levels.SetClusterLevels([new Dictionary<string, int> { [SchemaLevels.AuditLog] = auditLogSchema }]);
        return levels;
    }

    private async Task PendAsync(string requestId, string correlationId)
    {
        var record = Record(correlationId) with { ResourceId = "/subscriptions/s/resourceGroups/" + requestId };
        await _store.PutAsync(AuditKeys.Pending(requestId), JsonSerializer.SerializeToUtf8Bytes(record, AuditServerJson.Default.AuditRecord), null, CancellationToken.None);
    }

    private AuditRecord Record(string correlationId) => new()
    {
        EventTimestamp = _time.GetUtcNow(),
        TenantId = "t",
        CallerAppId = "app",
        CallerObjectId = "object",
        Operation = "Microsoft.Resources/subscriptions/resourceGroups/write",
        ResourceId = "/subscriptions/s/resourceGroups/" + correlationId,
        Status = AuditStatuses.Succeeded,
        HttpStatusCode = 201,
        CorrelationId = correlationId,
    };

    /// <summary>Waits (real time, bounded) until the log holds at least <paramref name="count"/> entries and nothing is pending.</summary>
    private async Task<Holdfast.Audit.Export.AuditExportContent> WaitForEntriesAsync(int count)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            var content = await AuditLog.ReadAsync(_store, CancellationToken.None);
            var pending = (await _store.RangeAsync(new RangeRequest(AuditKeys.PendingPrefix), CancellationToken.None)).Items.Count;
            if ((content.Entries.Count >= count && pending == 0) || TimeProvider.System.GetElapsedTime(started) > TimeSpan.FromSeconds(20))
            {
                return content;
            }

            await Task.Delay(20);
        }
    }

    private AuditVerification Verify(Holdfast.Audit.Export.AuditExportContent content) =>
        AuditVerifier.Verify(content.Entries, content.Checkpoints, _keys.Find, content.Anchor);
}
