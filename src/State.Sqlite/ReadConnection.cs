using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Holdfast.State.Sqlite;

/// <summary>
/// A query-only connection with its prepared statements. In WAL mode readers never wait for the writer; a read that
/// spans several statements runs inside <see cref="BeginSnapshot"/>/<see cref="EndSnapshot"/> to see one revision.
/// </summary>
internal sealed class ReadConnection : IKvSource, IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _end;
    private readonly SqliteCommand _meta;
    private readonly SqliteCommand _get;
    private readonly SqliteCommand _range;
    private readonly SqliteCommand _rangeFrom;
    private readonly SqliteCommand _rangeAfter;
    private readonly SqliteCommand _logStart;
    private readonly SqliteCommand _logPage;

    public ReadConnection(string path, int busyTimeoutSeconds)
    {
        _connection = Schema.Open(path, writer: false, busyTimeoutSeconds);
        try
        {
            _begin = Schema.Prepare(_connection, "BEGIN");
            _end = Schema.Prepare(_connection, "COMMIT");
            _meta = Schema.Prepare(
                _connection, "SELECT (SELECT value FROM meta WHERE name = 'rev'), (SELECT value FROM meta WHERE name = 'compact_rev')");
            _get = Schema.Prepare(_connection, $"SELECT {Schema.KvColumns} FROM kv WHERE key = $key", "$key");
            _range = Schema.Prepare(_connection, $"SELECT {Schema.KvColumns} FROM kv WHERE {Schema.PrefixBounds} ORDER BY key", "$from", "$to");

            // Paging needs one lower bound for the index seek, so the caller picks the larger of prefix and StartAfter.
            const string Paged = $"SELECT {Schema.KvColumns} FROM kv WHERE key {{0}} $from AND key < CAST($to AS TEXT) ORDER BY key LIMIT $limit";
            _rangeFrom = Schema.Prepare(_connection, string.Format(System.Globalization.CultureInfo.InvariantCulture, Paged, ">="), "$from", "$to", "$limit");
            _rangeAfter = Schema.Prepare(_connection, string.Format(System.Globalization.CultureInfo.InvariantCulture, Paged, ">"), "$from", "$to", "$limit");
            _logStart = Schema.Prepare(_connection, "SELECT min(id) FROM log WHERE rev > $rev", "$rev");
            _logPage = Schema.Prepare(
                _connection,
                $"SELECT id, rev, key, value, type, create_rev, version, lease FROM log WHERE id > $id AND {Schema.PrefixBounds} ORDER BY id LIMIT $limit",
                "$id",
                "$from",
                "$to",
                "$limit");
        }
        catch
        {
            _connection.Dispose();
            throw;
        }
    }

    /// <summary>True when no snapshot is open, so the connection can go back to the pool.</summary>
    public bool IsIdle => raw.sqlite3_get_autocommit(_connection.Handle) != 0;

    public (long Revision, long CompactedRevision) BeginSnapshot()
    {
        _begin.ExecuteNonQuery();
        using var reader = _meta.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    public void EndSnapshot() => _end.ExecuteNonQuery();

    public KeyValue? Get(string key)
    {
        _get.Parameters[0].Value = key;
        return Schema.ReadOne(_get);
    }

    public List<KeyValue> Range(string prefix)
    {
        _range.Parameters[0].Value = prefix;
        _range.Parameters[1].Value = KeyOrder.PrefixEnd(prefix);
        return Schema.ReadAll(_range);
    }

    public RangeResult RangePage(RangeRequest request)
    {
        var (revision, _) = BeginSnapshot();
        if (request.Revision != 0 && request.Revision != revision)
        {
            EndSnapshot();

            // Only the newest values are kept: a past revision is as unreadable as a compacted one.
            if (request.Revision > revision)
            {
                throw new ArgumentOutOfRangeException(nameof(request), request.Revision, $"Revision {request.Revision} is above the store's revision {revision}.");
            }

            throw new RevisionCompactedException(request.Revision, revision - 1);
        }

        bool resume = request.StartAfter is { } startAfter && KeyOrder.Compare(startAfter, request.Prefix) >= 0;
        var command = resume ? _rangeAfter : _rangeFrom;
        command.Parameters[0].Value = resume ? request.StartAfter : request.Prefix;
        command.Parameters[1].Value = KeyOrder.PrefixEnd(request.Prefix);
        command.Parameters[2].Value = request.Limit > 0 ? request.Limit + 1L : -1L;
        var items = Schema.ReadAll(command);
        EndSnapshot();

        string? continueAfter = null;
        if (request.Limit > 0 && items.Count > request.Limit)
        {
            items.RemoveAt(items.Count - 1);
            continueAfter = items[^1].Key;
        }

        return new RangeResult(items, revision, continueAfter);
    }

    public TxnResult ReadOnlyTxn(TxnRequest request)
    {
        var (revision, _) = BeginSnapshot();
        bool succeeded = TxnCompares.AllHold(request.Compares, this);
        var results = TxnCompares.Read(succeeded ? request.Success : request.Failure, this);
        EndSnapshot();
        return new TxnResult(succeeded, revision, results);
    }

    /// <summary>
    /// Reads the next page of history for <paramref name="cursor"/>, checking in the same snapshot that compaction has
    /// not removed any of it. Pages are ordered by log id, which grows with the revision.
    /// </summary>
    public List<WatchEvent> ReadHistory(ReplayCursor cursor, int pageSize)
    {
        var (revision, compacted) = BeginSnapshot();
        var page = new List<WatchEvent>();
        try
        {
            // The rest of a revision split across pages is gone once the compacted revision reaches it.
            if (cursor.MidRevision ? compacted >= cursor.LastRevision : compacted > cursor.LastRevision)
            {
                throw new RevisionCompactedException(cursor.MidRevision ? cursor.LastRevision : cursor.LastRevision + 1, compacted);
            }

            if (cursor.LastId < 0)
            {
                _logStart.Parameters[0].Value = cursor.LastRevision;
                if (_logStart.ExecuteScalar() is not long firstId)
                {
                    cursor.Finish(revision);
                    return page;
                }

                cursor.LastId = firstId - 1;
            }

            var parameters = _logPage.Parameters;
            parameters[0].Value = cursor.LastId;
            parameters[1].Value = cursor.Prefix;
            parameters[2].Value = cursor.PrefixEnd;
            parameters[3].Value = pageSize + 1L;
            long nextId = 0;
            long nextRevision = 0;
            using (var reader = _logPage.ExecuteReader())
            {
                while (reader.Read())
                {
                    long id = reader.GetInt64(0);
                    long rev = reader.GetInt64(1);
                    if (page.Count == pageSize)
                    {
                        (nextId, nextRevision) = (id, rev);
                        break;
                    }

                    string key = reader.GetString(2);
                    var kv = reader.GetInt64(4) == Schema.LogPut
                        ? new KeyValue(key, reader.GetFieldValue<byte[]>(3), reader.GetInt64(5), rev, reader.GetInt64(6), reader.GetInt64(7))
                        : new KeyValue(key, ReadOnlyMemory<byte>.Empty, 0, rev, 0, 0);
                    page.Add(new WatchEvent(reader.GetInt64(4) == Schema.LogPut ? WatchEventType.Put : WatchEventType.Delete, kv));
                    cursor.LastId = id;
                }
            }

            if (nextId == 0)
            {
                cursor.Finish(revision);
            }
            else
            {
                cursor.MidRevision = nextRevision == page[^1].Revision;
                cursor.LastRevision = page[^1].Revision;
            }

            return page;
        }
        finally
        {
            EndSnapshot();
        }
    }

    public void Dispose()
    {
        foreach (var command in new[] { _begin, _end, _meta, _get, _range, _rangeFrom, _rangeAfter, _logStart, _logPage })
        {
            command.Dispose();
        }

        _connection.Dispose();
    }
}

/// <summary>Where a watch's replay of history has got to.</summary>
internal sealed class ReplayCursor(string prefix, long afterRevision)
{
    public string Prefix { get; } = prefix;

    public byte[] PrefixEnd { get; } = KeyOrder.PrefixEnd(prefix);

    /// <summary>The log id of the last event read; -1 until the first page finds where history after the watch's revision starts.</summary>
    public long LastId { get; set; } = -1;

    /// <summary>The revision of the last event read (the watch's start revision before any).</summary>
    public long LastRevision { get; set; } = afterRevision;

    /// <summary>True when the last page ended inside a revision, so more events of <see cref="LastRevision"/> follow.</summary>
    public bool MidRevision { get; set; }

    public bool Done { get; private set; }

    /// <summary>Once <see cref="Done"/>: every event at or below this revision has been replayed, so live ones up to it are duplicates.</summary>
    public long ReplayedThrough { get; private set; }

    public void Finish(long snapshotRevision)
    {
        Done = true;
        ReplayedThrough = Math.Max(snapshotRevision, LastRevision);
    }
}

/// <summary>Idle read connections. Rented connections are returned only when idle (no snapshot left open).</summary>
internal sealed class ReadConnectionPool(string path, int maxIdle, int busyTimeoutSeconds) : IDisposable
{
    private readonly ConcurrentQueue<ReadConnection> _idle = new();
    private int _idleCount;
    private volatile bool _disposed;

    public ReadConnection Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryDequeue(out var connection))
        {
            Interlocked.Decrement(ref _idleCount);
            return connection;
        }

        return new ReadConnection(path, busyTimeoutSeconds);
    }

    public void Return(ReadConnection connection)
    {
        if (_disposed || !connection.IsIdle)
        {
            connection.Dispose();
            return;
        }

        if (Interlocked.Increment(ref _idleCount) > maxIdle)
        {
            Interlocked.Decrement(ref _idleCount);
            connection.Dispose();
            return;
        }

        _idle.Enqueue(connection);
        if (_disposed)
        {
            Drain();
        }
    }

    public void Dispose()
    {
        _disposed = true;
        Drain();
    }

    private void Drain()
    {
        while (_idle.TryDequeue(out var connection))
        {
            Interlocked.Decrement(ref _idleCount);
            connection.Dispose();
        }
    }
}
