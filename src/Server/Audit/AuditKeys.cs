using System.Globalization;

namespace Holdfast.Server.Audit;

/// <summary>
/// Where the activity log lives in the store. Pending records are written by requests (in their own transaction) and
/// consumed by <see cref="AuditChainer"/>; entries, checkpoints, the head and the retention anchor are written only by
/// the chainer. Sequences are zero-padded so a prefix range returns entries in sequence order.
/// </summary>
public static class AuditKeys
{
    public const string Root = "/audit/";

    public const string PendingPrefix = "/audit/pending/";

    public const string EntriesPrefix = "/audit/entries/";

    public const string CheckpointsPrefix = "/audit/checkpoints/";

    /// <summary>The last chained entry's sequence and hash, and the last checkpoint's sequence.</summary>
    public const string Head = "/audit/head";

    /// <summary>The signed checkpoint entries were truncated up to by retention.</summary>
    public const string Anchor = "/audit/anchor";

    public static string Pending(string requestId) => PendingPrefix + requestId;

    public static string Entry(long sequence) => EntriesPrefix + sequence.ToString("D16", CultureInfo.InvariantCulture);

    public static string Checkpoint(long sequence) => CheckpointsPrefix + sequence.ToString("D16", CultureInfo.InvariantCulture);
}
