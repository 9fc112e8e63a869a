using System.Globalization;

namespace Holdfast.Server.Audit;

/// <summary>
/// Where the activity log lives in the store. Pending records are written by requests (in their own transaction) and
/// consumed by <see cref="AuditChainer"/>; blocks of entries, checkpoints, the head and the retention anchor are written
/// only by the chainer. Sequences are zero-padded so a prefix range returns blocks in sequence order.
/// </summary>
public static class AuditKeys
{
    public const string Root = "/audit/";

    public const string PendingPrefix = "/audit/pending/";

    /// <summary>Blocks of consecutive entries (<see cref="Holdfast.Audit.Chain.AuditBlock"/>), each keyed by its last entry's sequence.</summary>
    public const string BlocksPrefix = "/audit/blocks/";

    /// <summary>
    /// Single entries (activity-log schema 1): what releases before blocks write, and what this one writes while such
    /// a replica is live (<c>SchemaLevels.AuditLog</c>). Read merged with blocks by sequence; removed by retention.
    /// </summary>
    public const string EntriesPrefix = "/audit/entries/";

    public const string CheckpointsPrefix = "/audit/checkpoints/";

    /// <summary>The last chained entry's sequence and hash, and the last checkpoint's sequence.</summary>
    public const string Head = "/audit/head";

    /// <summary>The signed checkpoint entries were truncated up to by retention.</summary>
    public const string Anchor = "/audit/anchor";

    public static string Pending(string requestId) => PendingPrefix + requestId;

    public static string Block(long lastSequence) => BlocksPrefix + lastSequence.ToString("D16", CultureInfo.InvariantCulture);

    public static string Entry(long sequence) => EntriesPrefix + sequence.ToString("D16", CultureInfo.InvariantCulture);

    public static string Checkpoint(long sequence) => CheckpointsPrefix + sequence.ToString("D16", CultureInfo.InvariantCulture);

    /// <summary>The sequence a block or entry key names; -1 when the key was not written by Holdfast.</summary>
    public static long SequenceOf(string key, string prefix) =>
        key.Length == prefix.Length + 16 && long.TryParse(key.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
            ? sequence
            : -1;
}
