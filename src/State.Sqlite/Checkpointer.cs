using Microsoft.Data.Sqlite;

namespace Holdfast.State.Sqlite;

/// <summary>
/// Copies the WAL back into the database file on a thread of its own (SQLite's PASSIVE checkpoint, which never waits
/// for the writer or readers), so commits do not pay for it: with SQLite's automatic checkpoint, the commit that
/// crosses the threshold copies every changed page and fsyncs the database file before its callers are answered.
/// The writer asks for a checkpoint every few commits (<see cref="Request"/>). While writes never pause, a checkpoint
/// running beside them never catches up with the WAL's end, so SQLite cannot start the WAL over; the writer then
/// checkpoints the few remaining frames itself between batches once <see cref="WalFrames"/> passes a bound.
/// </summary>
internal sealed class Checkpointer : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _checkpoint;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _thread;
    private volatile bool _stopping;
    private int _requested;
    private long _walFrames;

    public Checkpointer(string path, int busyTimeoutSeconds)
    {
        _connection = Schema.Open(path, writer: true, busyTimeoutSeconds);
        _checkpoint = Schema.Prepare(_connection, "PRAGMA wal_checkpoint(PASSIVE)");
        _thread = new Thread(Run) { IsBackground = true, Name = "SQLite checkpoint" };
        _thread.Start();
    }

    /// <summary>Frames in the WAL after the last checkpoint this thread ran (0 before the first).</summary>
    public long WalFrames => Interlocked.Read(ref _walFrames);

    /// <summary>Records the WAL's frame count from a checkpoint run elsewhere (the writer's); -1 is ignored.</summary>
    public void Observed(long frames)
    {
        if (frames >= 0)
        {
            Interlocked.Exchange(ref _walFrames, frames);
        }
    }

    /// <summary>Asks for a checkpoint; requests made while one is pending collapse into it.</summary>
    public void Request()
    {
        if (Interlocked.Exchange(ref _requested, 1) == 0)
        {
            _wake.Release();
        }
    }

    /// <summary>Runs a PASSIVE checkpoint on <paramref name="command"/>'s connection; the WAL's frame count, or -1 if it failed.</summary>
    public static long Run(SqliteCommand command)
    {
        try
        {
            using var reader = command.ExecuteReader();
            return reader.Read() ? reader.GetInt64(1) : -1;
        }
        catch (SqliteException)
        {
            // Nothing is lost: the frames stay in the WAL, readers read them there, and the next checkpoint retries.
            return -1;
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _wake.Release();
        _thread.Join();
        _checkpoint.Dispose();
        _connection.Dispose();
        _wake.Dispose();
    }

    private void Run()
    {
        while (true)
        {
            _wake.Wait();
            if (_stopping)
            {
                return;
            }

            Volatile.Write(ref _requested, 0);
            Observed(Run(_checkpoint));
        }
    }
}
