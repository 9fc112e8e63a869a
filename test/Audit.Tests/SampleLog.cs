using System.Security.Cryptography;
using Holdfast.Audit.Chain;
using Holdfast.Audit.Verification;
using Holdfast.Testing;

namespace Holdfast.Audit.Tests;

/// <summary>
/// A deterministic activity log for tests: entries one minute apart from 2026-01-01 on a manual clock, a checkpoint
/// signed every <c>checkpointEvery</c> entries with <see cref="Key"/>, and helpers to tamper with copies of it.
/// </summary>
internal sealed class SampleLog : IDisposable
{
    public const string KeyId = "audit-2026-01";

    private static readonly string[] Operations =
    [
        "Microsoft.Resources/subscriptions/resourceGroups/write",
        "Microsoft.Network/virtualNetworks/write",
        "Microsoft.Network/virtualNetworks/delete",
        "Microsoft.Resources/subscriptions/resourceGroups/delete",
    ];

    private SampleLog(int count, int checkpointEvery)
    {
        var time = new ManualTimeProvider();
        var previous = AuditEntry.GenesisHash;
        for (var sequence = 1; sequence <= count; sequence++)
        {
            time.Advance(TimeSpan.FromMinutes(1));
            var entry = AuditEntry.Create(Record(sequence, time.GetUtcNow()), sequence, previous);
            Entries.Add(entry);
            previous = entry.Hash;
            if (checkpointEvery > 0 && sequence % checkpointEvery == 0)
            {
                Checkpoints.Add(AuditCheckpoint.Sign(sequence, entry.Hash, time.GetUtcNow(), KeyId, Key));
            }
        }
    }

    public ECDsa Key { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public List<AuditEntry> Entries { get; } = [];

    public List<AuditCheckpoint> Checkpoints { get; } = [];

    public static SampleLog Create(int count = 50, int checkpointEvery = 10) => new(count, checkpointEvery);

    public static AuditRecord Record(long n, DateTimeOffset at) => new()
    {
        EventTimestamp = at,
        TenantId = "72f988bf-86f1-41af-91ab-2d7cd011db47",
        CallerAppId = "app-" + (n % 3),
        CallerObjectId = "object-" + (n % 3),
        Operation = Operations[n % Operations.Length],
        ResourceId = $"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-{n}",
        SubscriptionId = "00000000-0000-0000-0000-000000000001",
        ResourceGroupName = $"rg-{n}",
        Status = n % 7 == 0 ? AuditStatuses.Failed : AuditStatuses.Succeeded,
        SubStatus = n % 7 == 0 ? "Conflict" : null,
        HttpStatusCode = n % 7 == 0 ? 409 : 200,
        CorrelationId = $"corr-{n:D4}",
        ClientAddress = "10.0.0." + (n % 250),
        Level = n % 7 == 0 ? AuditLevels.Error : AuditLevels.Informational,
        Description = n % 5 == 0 ? $"Change {n}" : null,
    };

    public ECDsa? FindKey(string keyId) => keyId == KeyId ? Key : null;

    /// <summary>The entry with <paramref name="sequence"/> (sequences are 1-based, lists 0-based).</summary>
    public AuditEntry this[long sequence] => Entries[(int)sequence - 1];

    public AuditCheckpoint CheckpointAt(long sequence) => Checkpoints.Single(c => c.Sequence == sequence);

    public AuditVerification Verify(IReadOnlyList<AuditEntry>? entries = null, IReadOnlyList<AuditCheckpoint>? checkpoints = null, AuditCheckpoint? anchor = null) =>
        AuditVerifier.Verify(entries ?? Entries, checkpoints ?? Checkpoints, FindKey, anchor);

    /// <summary>A copy of the entries with the one at <paramref name="sequence"/> replaced by <paramref name="edit"/>'s result.</summary>
    public List<AuditEntry> With(long sequence, Func<AuditEntry, AuditEntry> edit)
    {
        var copy = Entries.ToList();
        copy[(int)sequence - 1] = edit(copy[(int)sequence - 1]);
        return copy;
    }

    /// <summary>
    /// What an attacker who knows the format does: edits entry <paramref name="from"/> and recomputes its hash and
    /// every later entry's link and hash, so the chain is consistent again.
    /// </summary>
    public List<AuditEntry> RewrittenFrom(long from, Func<AuditEntry, AuditEntry> edit)
    {
        var copy = Entries.ToList();
        var previous = from == 1 ? AuditEntry.GenesisHash : copy[(int)from - 2].Hash;
        for (var i = (int)from - 1; i < copy.Count; i++)
        {
            var changed = (i == from - 1 ? edit(copy[i]) : copy[i]) with { PreviousHash = previous };
            copy[i] = changed with { Hash = changed.ComputeHash() };
            previous = copy[i].Hash;
        }

        return copy;
    }

    public void Dispose() => Key.Dispose();
}
