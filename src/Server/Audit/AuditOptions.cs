namespace Holdfast.Server.Audit;

/// <summary>How the activity log is chained, checkpointed and kept (flags of <c>holdfast serve</c>).</summary>
public sealed record AuditOptions
{
    /// <summary>A signed checkpoint at least every this many entries.</summary>
    public long CheckpointEveryEntries { get; init; } = 1000;

    /// <summary>A signed checkpoint of unsigned entries at least this often (and always on shutdown).</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Entries older than this are truncated at a signed anchor; null keeps everything.</summary>
    public TimeSpan? Retention { get; init; }

    /// <summary>How often retention is applied when <see cref="Retention"/> is set.</summary>
    public TimeSpan RetentionCheckInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How often the chainer looks for records written by other processes; local commits wake it at once.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the chainer lets pending records gather after a wake-up before it chains them. Pending records are
    /// already durable in their writes' own transactions, so the wait loses nothing; it turns one chaining commit
    /// (and fsync) per write into one per window when writes arrive one at a time.
    /// </summary>
    public TimeSpan BatchWindow { get; init; } = TimeSpan.FromMilliseconds(50);
}
