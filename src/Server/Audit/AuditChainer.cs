using System.Text.Json;
using Holdfast.Audit.Chain;
using Holdfast.Audit.Verification;
using Holdfast.Providers.Framework;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Audit;

/// <summary>
/// The one writer of the chain. It takes pending records in commit order (mod revision), gives them sequences, chains
/// them (<see cref="AuditEntry.Create"/>) and, in one transaction per batch guarded by the head's revision and each
/// pending record's, writes the batch's entries as one <see cref="AuditBlock"/> and the new head and deletes the
/// pending records — so a crash at any point
/// either chained a batch wholly or not at all, and a restart resumes from the head. It signs a checkpoint every
/// <see cref="AuditOptions.CheckpointEveryEntries"/> entries, every <see cref="AuditOptions.CheckpointInterval"/> and
/// on shutdown, and applies retention by truncating at a signed anchor. (In the HA issue it runs on the leader only.)
/// </summary>
internal sealed partial class AuditChainer(IStateStore store, AuditSigningKeys keys, AuditChainSignal signal, SchemaLevels schemaLevels, HoldfastServerOptions serverOptions, TimeProvider timeProvider, ILogger<AuditChainer> logger) : BackgroundService
{
    private const int BatchSize = 256;
    private const int DeletesPerTransaction = 512;
    private readonly AuditOptions _options = serverOptions.Audit;
    private DateTimeOffset _lastCheckpointAt = timeProvider.GetUtcNow();
    private DateTimeOffset? _lastRetentionAt;
    private (AuditHead Head, long Revision)? _lastHead;
    private readonly PendingRecords _pending = new();

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);

        // Requests have drained (the web host stops first): chain what they left and sign it, whatever the token says.
        try
        {
            await DrainAsync(CancellationToken.None).ConfigureAwait(false);
            await CheckpointAsync(force: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StateStoreException or ObjectDisposedException or InvalidDataException)
        {
            LogChainFailed(logger, ex);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var follower = FollowPendingAsync(stoppingToken);
        try
        {
            await ChainLoopAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            await follower.ConfigureAwait(false);
        }
    }

    /// <summary>Keeps <see cref="_pending"/> following the store, relisting after a compaction or a broken watch.</summary>
    private async Task FollowPendingAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _pending.FollowAsync(store, signal, stoppingToken).ConfigureAwait(false);
                continue;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (StateStoreException ex)
            {
                LogPendingWatchRestart(logger, ex.Message);
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), timeProvider, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task ChainLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await DrainAsync(stoppingToken).ConfigureAwait(false);
                await CheckpointAsync(force: false, stoppingToken).ConfigureAwait(false);
                await ApplyRetentionAsync(stoppingToken).ConfigureAwait(false);
                await signal.WaitAsync(_options.PollInterval, timeProvider, stoppingToken).ConfigureAwait(false);
                if (_options.BatchWindow > TimeSpan.Zero)
                {
                    await Task.Delay(_options.BatchWindow, timeProvider, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is StateStoreException or InvalidDataException or JsonException)
            {
                LogChainFailed(logger, ex);
                await signal.WaitAsync(_options.PollInterval, timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Chains every pending record; returns how many entries it appended.</summary>
    internal async Task<int> DrainAsync(CancellationToken cancellationToken)
    {
        var appended = 0;
        var fresh = false;
        while (true)
        {
            // The followed set when there is one, else (and after any conflict) a read of the prefix.
            var followed = !fresh && _pending.IsLive;
            var pending = followed ? _pending.Snapshot() : [];
            if (!followed)
            {
                await foreach (var kv in AuditLog.RangeAllAsync(store, AuditKeys.PendingPrefix, null, cancellationToken).ConfigureAwait(false))
                {
                    pending.Add(kv);
                }
            }

            if (pending.Count == 0)
            {
                return appended;
            }

            // Commit order: one request's record shares its transaction's revision, so mod revision orders them.
            pending.Sort((a, b) => a.ModRevision != b.ModRevision ? a.ModRevision.CompareTo(b.ModRevision) : string.CompareOrdinal(a.Key, b.Key));
            var conflicted = false;
            foreach (var batch in pending.Chunk(BatchSize))
            {
                var chained = await ChainBatchAsync(batch, cancellationToken).ConfigureAwait(false);
                if (chained < 0)
                {
                    conflicted = true;
                    break;
                }

                _pending.Chained(batch);
                appended += chained;
            }

            if (!conflicted)
            {
                return appended;
            }

            fresh = true;
        }
    }

    /// <summary>Chains one batch in one transaction; -1 when the head or a pending record changed meanwhile.</summary>
    private async Task<int> ChainBatchAsync(KeyValue[] batch, CancellationToken cancellationToken)
    {
        // The chainer is the head's one writer, so the head it wrote last is usually current; the compare checks.
        var (head, headRevision) = _lastHead ?? await ReadHeadAsync(cancellationToken).ConfigureAwait(false);
        _lastHead = null;
        var compares = new List<Compare> { Compare.ModRevisionIs(AuditKeys.Head, headRevision) };
        var ops = new List<TxnOp>();
        var sequence = head.Sequence;
        var previous = head.Hash;
        var lastCheckpoint = head.LastCheckpoint;
        var entries = new List<AuditEntry>(batch.Length);

        // Blocks once every live replica reads them (a replica of an earlier release reads single entries only).
        var inBlocks = schemaLevels.Write(SchemaLevels.AuditLog) >= 2;
        foreach (var kv in batch)
        {
            var entry = AuditEntry.Create(ReadRecord(kv), ++sequence, previous);
            previous = entry.Hash;
            entries.Add(entry);
            if (!inBlocks)
            {
                ops.Add(TxnOp.Put(AuditKeys.Entry(entry.Sequence), AuditJson.Serialize(entry)));
            }

            compares.Add(Compare.ModRevisionIs(kv.Key, kv.ModRevision));
            ops.Add(TxnOp.Delete(kv.Key));

            // Signed at the entry that reaches the count, not at the end of the batch: where checkpoints sit does
            // not depend on how writes happened to be batched, and no run of unsigned entries exceeds the count.
            if (sequence - lastCheckpoint >= _options.CheckpointEveryEntries)
            {
                ops.Add(SignCheckpoint(sequence, previous));
                lastCheckpoint = sequence;
            }
        }

        // One block per batch: the store writes one record for the whole batch, however many entries it holds.
        if (inBlocks)
        {
            ops.Add(TxnOp.Put(AuditKeys.Block(sequence), AuditJson.Serialize(new AuditBlock { Entries = entries })));
        }

        var newHead = new AuditHead { Sequence = sequence, Hash = previous, LastCheckpoint = lastCheckpoint };
        ops.Add(HeadOp(newHead));

        // Never cancelled half-way: the transaction is atomic, but a cancelled wait would leave us unsure whether it landed.
        var result = await store.TxnAsync(new TxnRequest(compares, ops) { WithoutPreviousValues = true }, CancellationToken.None).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return -1;
        }

        _lastHead = (newHead, result.Revision);

        if (lastCheckpoint != head.LastCheckpoint)
        {
            _lastCheckpointAt = timeProvider.GetUtcNow();
        }

        return batch.Length;
    }

    /// <summary>Signs the newest entry when unsigned entries exist and the interval passed (or <paramref name="force"/>).</summary>
    internal async Task CheckpointAsync(bool force, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        if (!force && now - _lastCheckpointAt < _options.CheckpointInterval)
        {
            return;
        }

        _lastHead = null;
        var (head, headRevision) = await ReadHeadAsync(cancellationToken).ConfigureAwait(false);
        if (head.Sequence <= head.LastCheckpoint)
        {
            _lastCheckpointAt = now;
            return;
        }

        var result = await store.TxnAsync(
            new TxnRequest([Compare.ModRevisionIs(AuditKeys.Head, headRevision)], [SignCheckpoint(head.Sequence, head.Hash), HeadOp(head with { LastCheckpoint = head.Sequence })]),
            CancellationToken.None).ConfigureAwait(false);
        if (result.Succeeded)
        {
            _lastCheckpointAt = now;
            LogCheckpoint(logger, head.Sequence);
        }
    }

    /// <summary>
    /// Truncates entries older than the retention at a signed anchor: the log is verified first (a damaged log is
    /// never anchored, which would launder the damage), then the anchor is stored and the entries up to it deleted.
    /// </summary>
    internal async Task ApplyRetentionAsync(CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        if (_options.Retention is not { } retention || (_lastRetentionAt is { } last && now - last < _options.RetentionCheckInterval))
        {
            return;
        }

        _lastRetentionAt = now;
        var cutoff = now - retention;

        // Whole stored records only (a block, or a single entry from before blocks), each wholly older than the cutoff:
        // the anchor sits at a record's last entry, so no kept record starts below it.
        long? truncateTo = null;
        string? anchorHash = null;
        var deletions = new List<string>();
        await foreach (var stored in AuditLog.StoredAsync(store, 0, cancellationToken).ConfigureAwait(false))
        {
            if (stored.Entries is not { Count: > 0 } entries || entries.Any(e => e.EventTimestamp >= cutoff))
            {
                break;
            }

            truncateTo = entries[^1].Sequence;
            anchorHash = entries[^1].Hash;
            deletions.Add(stored.Key);
        }

        if (truncateTo is not { } sequence)
        {
            return;
        }

        var content = await AuditLog.ReadAsync(store, cancellationToken).ConfigureAwait(false);
        var verification = AuditVerifier.Verify(content.Entries, content.Checkpoints, keys.Find, content.Anchor);
        if (!verification.IsIntact)
        {
            LogRetentionRefused(logger, verification.Message);
            return;
        }

        var anchorKv = await store.GetAsync(AuditKeys.Anchor, cancellationToken).ConfigureAwait(false);
        var anchor = AuditCheckpoint.Sign(sequence, anchorHash!, now, keys.ActiveKeyId, RequireSigner());
        deletions.AddRange(content.Checkpoints.Where(c => c.Sequence < sequence).Select(c => AuditKeys.Checkpoint(c.Sequence)).Distinct(StringComparer.Ordinal));

        // The anchor goes first: entries at or below it are ignored by verification, so deleting them in later
        // transactions is safe whenever a crash interrupts it (the next pass deletes the rest).
        var first = true;
        foreach (var chunk in deletions.Chunk(DeletesPerTransaction).DefaultIfEmpty([]))
        {
            var ops = chunk.Select(TxnOp.Delete).ToList();
            var compares = new List<Compare>();
            if (first)
            {
                ops.Insert(0, TxnOp.Put(AuditKeys.Anchor, AuditJson.Serialize(anchor)));
                compares.Add(Compare.ModRevisionIs(AuditKeys.Anchor, anchorKv?.ModRevision ?? 0));
            }

            var result = await store.TxnAsync(new TxnRequest(compares, ops) { WithoutPreviousValues = true }, CancellationToken.None).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                return;
            }

            first = false;
        }

        LogRetention(logger, sequence);
    }

    private async Task<(AuditHead Head, long Revision)> ReadHeadAsync(CancellationToken cancellationToken)
    {
        var kv = await store.GetAsync(AuditKeys.Head, cancellationToken).ConfigureAwait(false);
        if (kv is null)
        {
            return (new AuditHead { Sequence = 0, Hash = AuditEntry.GenesisHash }, 0);
        }

        var head = JsonSerializer.Deserialize(kv.Value.Span, AuditServerJson.Default.AuditHead)
            ?? throw new InvalidDataException("The activity-log head is empty.");
        return (head, kv.ModRevision);
    }

    private static AuditRecord ReadRecord(KeyValue kv)
    {
        try
        {
            return JsonSerializer.Deserialize(kv.Value.Span, AuditServerJson.Default.AuditRecord)
                ?? throw new JsonException("A pending audit record cannot be null.");
        }
        catch (JsonException)
        {
            // Never dropped: an unreadable record is itself evidence, chained as what it is.
            return new AuditRecord
            {
                EventTimestamp = DateTimeOffset.UnixEpoch,
                TenantId = string.Empty,
                CallerAppId = string.Empty,
                CallerObjectId = string.Empty,
                Operation = "Holdfast.Audit/pendingRecords/unreadable",
                ResourceId = kv.Key,
                Status = AuditStatuses.Failed,
                HttpStatusCode = 0,
                CorrelationId = string.Empty,
                Level = AuditLevels.Critical,
                Description = Convert.ToBase64String(kv.Value.Span),
            };
        }
    }

    private TxnOp SignCheckpoint(long sequence, string hash) =>
        TxnOp.Put(AuditKeys.Checkpoint(sequence), AuditJson.Serialize(AuditCheckpoint.Sign(sequence, hash, timeProvider.GetUtcNow(), keys.ActiveKeyId, RequireSigner())));

    private System.Security.Cryptography.ECDsa RequireSigner() =>
        keys.Signer ?? throw new InvalidOperationException("The activity-log keys were loaded without the signing key.");

    private static TxnOp HeadOp(AuditHead head) =>
        TxnOp.Put(AuditKeys.Head, JsonSerializer.SerializeToUtf8Bytes(head, AuditServerJson.Default.AuditHead));

    [LoggerMessage(Level = LogLevel.Warning, Message = "The watch of pending activity-log records restarts: {Reason}")]
    private static partial void LogPendingWatchRestart(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Chaining the activity log failed; retrying")]
    private static partial void LogChainFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Signed an activity-log checkpoint at entry {Sequence}")]
    private static partial void LogCheckpoint(ILogger logger, long sequence);

    [LoggerMessage(Level = LogLevel.Information, Message = "Activity-log retention truncated entries up to {Sequence} at a signed anchor")]
    private static partial void LogRetention(ILogger logger, long sequence);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Activity-log retention refused: the log does not verify ({Problem})")]
    private static partial void LogRetentionRefused(ILogger logger, string problem);
}
