namespace Holdfast.State.Sqlite;

/// <summary>Tuning knobs for <see cref="SqliteStateStore"/>; the defaults suit a control plane on one node.</summary>
public sealed class SqliteStateStoreOptions
{
    /// <summary>Most queued writes applied in one SQLite transaction (one fsync) by the group-committing writer.</summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>
    /// Live events buffered per watcher. A watcher that falls this far behind is ended with a transient
    /// <see cref="StateStoreException"/> (after it has read what was buffered) so the writer never waits for it;
    /// it re-watches from the last revision it saw.
    /// </summary>
    public int WatchBufferCapacity { get; init; } = 4096;

    /// <summary>How often lease expiry is checked, on the injected <see cref="TimeProvider"/>.</summary>
    public TimeSpan LeaseCheckInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Read connections kept open between reads; more are opened under load and closed afterwards.</summary>
    public int MaxIdleReadConnections { get; init; } = 8;

    /// <summary>
    /// How long a statement retries while another process holds the file's lock before failing with a transient
    /// <see cref="StateStoreException"/>; rounded up to whole seconds (Microsoft.Data.Sqlite's unit).
    /// </summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Commits between two requests to the background checkpoint, which copies the WAL back into the database file.</summary>
    public int CheckpointEveryCommits { get; init; } = 64;

    /// <summary>
    /// WAL size, in 4 KiB frames, past which the writer itself checkpoints between batches: under unbroken writes the
    /// background checkpoint never reaches the WAL's end, and only a checkpoint that does lets SQLite start the WAL over.
    /// </summary>
    public long WalFramesBeforeWriterCheckpoint { get; init; } = 8192;

    internal int BusyTimeoutSeconds => (int)Math.Ceiling(BusyTimeout.TotalSeconds);

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(BusyTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(WatchBufferCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(LeaseCheckInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(MaxIdleReadConnections);
        ArgumentOutOfRangeException.ThrowIfLessThan(CheckpointEveryCommits, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(WalFramesBeforeWriterCheckpoint, 1);
    }
}
