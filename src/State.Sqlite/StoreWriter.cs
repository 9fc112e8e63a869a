using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Holdfast.State.Sqlite;

/// <summary>
/// The only connection that writes. It applies a batch of queued requests in one SQLite transaction (group commit:
/// one fsync for the batch), giving each successful write or writing transaction the next revision, then commits
/// once. Only the writer task calls it, so its state needs no locks; <see cref="CommittedRevision"/> is the one
/// field other threads read. Revisions and log ids are staged per batch and published only after the commit.
/// </summary>
internal sealed class StoreWriter : IKvSource, IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly TimeProvider _time;
    private readonly List<WatchEvent> _events = [];
    private readonly RecentWrites _recent = new(capacity: 1024, maxValueBytes: 16 * 1024);

    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _rollback;
    private readonly SqliteCommand _selectVersion;
    private readonly SqliteCommand _selectKv;
    private readonly SqliteCommand _selectRange;
    private readonly SqliteCommand _upsert;
    private readonly SqliteCommand _deleteKey;
    private readonly SqliteCommand _deleteKeyReturning;
    private readonly SqliteCommand _deleteRange;
    private readonly SqliteCommand _insertLog;
    private readonly SqliteCommand _updateMeta;
    private readonly SqliteCommand _leaseLive;
    private readonly SqliteCommand _leaseInsert;
    private readonly SqliteCommand _leaseKeepAlive;
    private readonly SqliteCommand _leaseDelete;
    private readonly SqliteCommand _leaseKeys;
    private readonly SqliteCommand _leaseDeleteKeys;
    private readonly SqliteCommand _expiredLeases;
    private readonly SqliteCommand _compactMeta;
    private readonly SqliteCommand _compactLog;
    private readonly SqliteCommand _checkpoint;

    private long _revision;
    private long _logId;
    private long _batchRevision;
    private long _batchLogId;
    private long _committedRevision;

    public StoreWriter(SqliteConnection connection, TimeProvider time)
    {
        _connection = connection;
        _time = time;
        _begin = Schema.Prepare(connection, "BEGIN IMMEDIATE");
        _commit = Schema.Prepare(connection, "COMMIT");
        _rollback = Schema.Prepare(connection, "ROLLBACK");
        _selectVersion = Schema.Prepare(connection, "SELECT mod_rev FROM kv WHERE key = $key", "$key");
        _selectKv = Schema.Prepare(connection, $"SELECT {Schema.KvColumns} FROM kv WHERE key = $key", "$key");
        _selectRange = Schema.Prepare(connection, $"SELECT {Schema.KvColumns} FROM kv WHERE {Schema.PrefixBounds} ORDER BY key", "$from", "$to");
        _upsert = Schema.Prepare(
            connection,
            """
            INSERT INTO kv (key, value, create_rev, mod_rev, version, lease) VALUES ($key, $value, $rev, $rev, 1, $lease)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, version = kv.version + 1, lease = excluded.lease
            RETURNING create_rev, version
            """,
            "$key",
            "$value",
            "$rev",
            "$lease");
        _deleteKey = Schema.Prepare(connection, "DELETE FROM kv WHERE key = $key", "$key");
        _deleteKeyReturning = Schema.Prepare(connection, $"DELETE FROM kv WHERE key = $key RETURNING {Schema.KvColumns}", "$key");
        _deleteRange = Schema.Prepare(connection, $"DELETE FROM kv WHERE {Schema.PrefixBounds}", "$from", "$to");
        _insertLog = Schema.Prepare(
            connection,
            "INSERT INTO log (id, rev, key, value, type, create_rev, version, lease) VALUES ($id, $rev, $key, $value, $type, $create, $version, $lease)",
            "$id",
            "$rev",
            "$key",
            "$value",
            "$type",
            "$create",
            "$version",
            "$lease");
        _updateMeta = Schema.Prepare(
            connection, "UPDATE meta SET value = CASE name WHEN 'rev' THEN $rev ELSE $log END WHERE name IN ('rev', 'log_id')", "$rev", "$log");
        _leaseLive = Schema.Prepare(connection, "SELECT 1 FROM leases WHERE id = $id AND expires_at_ms > $now", "$id", "$now");
        _leaseInsert = Schema.Prepare(connection, "INSERT INTO leases (ttl_ms, expires_at_ms) VALUES ($ttl, $now + $ttl) RETURNING id", "$ttl", "$now");
        _leaseKeepAlive = Schema.Prepare(
            connection, "UPDATE leases SET expires_at_ms = $now + ttl_ms WHERE id = $id AND expires_at_ms > $now", "$id", "$now");
        _leaseDelete = Schema.Prepare(connection, "DELETE FROM leases WHERE id = $id RETURNING expires_at_ms", "$id");
        _leaseKeys = Schema.Prepare(connection, "SELECT key FROM kv WHERE lease = $id AND lease <> 0 ORDER BY key", "$id");
        _leaseDeleteKeys = Schema.Prepare(connection, "DELETE FROM kv WHERE lease = $id AND lease <> 0", "$id");
        _expiredLeases = Schema.Prepare(connection, "SELECT id FROM leases WHERE expires_at_ms <= $now ORDER BY expires_at_ms, id", "$now");
        _compactMeta = Schema.Prepare(connection, "UPDATE meta SET value = $rev WHERE name = 'compact_rev' AND value < $rev", "$rev");
        _compactLog = Schema.Prepare(connection, "DELETE FROM log WHERE rev <= $rev", "$rev");
        _checkpoint = Schema.Prepare(connection, "PRAGMA wal_checkpoint(PASSIVE)");

        using var load = Schema.Prepare(
            connection,
            "SELECT (SELECT value FROM meta WHERE name = 'rev'), max((SELECT value FROM meta WHERE name = 'log_id'), coalesce((SELECT max(id) FROM log), 0))");
        using var reader = load.ExecuteReader();
        reader.Read();
        _revision = reader.GetInt64(0);
        _logId = reader.GetInt64(1);
        _committedRevision = _revision;
    }

    public long CommittedRevision => Volatile.Read(ref _committedRevision);

    /// <summary>The rows of recently written keys, filled after each commit; other threads read it.</summary>
    public RecentWrites Recent => _recent;

    /// <summary>
    /// Applies <paramref name="batch"/> in one transaction, hands the committed changes to <paramref name="publish"/>
    /// and completes every request. A request whose <see cref="PendingWrite.Apply"/> throws is failed alone: the
    /// transaction is rolled back and the rest applied again. A failed BEGIN or COMMIT fails the whole batch.
    /// </summary>
    public void ApplyBatch(List<PendingWrite> batch, Action<List<WatchEvent>> publish)
    {
        while (batch.Count > 0)
        {
            try
            {
                // Heals a connection left inside a transaction by an earlier failed rollback.
                if (InTransaction)
                {
                    _rollback.ExecuteNonQuery();
                }

                _begin.ExecuteNonQuery();
            }
            catch (Exception exception)
            {
                FailAll(batch, SqliteErrors.Translate(exception, "Starting a write transaction"));
                return;
            }

            _batchRevision = _revision;
            _batchLogId = _logId;
            _events.Clear();

            int failed = -1;
            Exception? failure = null;
            for (int i = 0; i < batch.Count; i++)
            {
                try
                {
                    batch[i].Apply(this);
                }
                catch (Exception exception)
                {
                    (failed, failure) = (i, exception);
                    break;
                }
            }

            if (failure is not null)
            {
                batch[failed].Fail(RollBackAfter(failure, "Applying a write"));
                batch.RemoveAt(failed);
                continue;
            }

            try
            {
                if (_batchRevision != _revision || _batchLogId != _logId)
                {
                    _updateMeta.Parameters[0].Value = _batchRevision;
                    _updateMeta.Parameters[1].Value = _batchLogId;
                    _updateMeta.ExecuteNonQuery();
                }

                _recent.Committing();
                _commit.ExecuteNonQuery();
            }
            catch (Exception exception)
            {
                _recent.Abandon();
                FailAll(batch, RollBackAfter(exception, "Committing writes"));
                return;
            }

            _revision = _batchRevision;
            _logId = _batchLogId;
            Volatile.Write(ref _committedRevision, _revision);
            _recent.Committed(_events);
            if (_events.Count > 0)
            {
                publish(_events);
            }

            foreach (var write in batch)
            {
                write.Complete();
            }

            return;
        }
    }

    /// <summary>
    /// A PASSIVE checkpoint between batches, when no write is in flight: it catches up with the WAL's end, so the next
    /// write transaction can start the WAL over. Returns the WAL's frame count before it restarts, or -1.
    /// </summary>
    public long Checkpoint() => Checkpointer.Run(_checkpoint);

    public KeyValue? Get(string key)
    {
        _selectKv.Parameters[0].Value = key;
        return Schema.ReadOne(_selectKv);
    }

    public List<KeyValue> Range(string prefix)
    {
        _selectRange.Parameters[0].Value = prefix;
        _selectRange.Parameters[1].Value = KeyOrder.PrefixEnd(prefix);
        return Schema.ReadAll(_selectRange);
    }

    public WriteResult Put(string key, byte[] value, long? expectedModRevision, long lease)
    {
        if (expectedModRevision is { } expected && ModRevisionOf(key) != expected)
        {
            return new WriteResult(false, _batchRevision, Get(key));
        }

        long revision = _batchRevision + 1;
        var kv = Upsert(key, value, revision, lease);
        _batchRevision = revision;
        return new WriteResult(true, revision, kv);
    }

    public WriteResult Delete(string key, long? expectedModRevision)
    {
        if (expectedModRevision is { } expected && ModRevisionOf(key) is var current && current != expected)
        {
            return new WriteResult(false, _batchRevision, current == 0 ? null : Get(key));
        }

        _deleteKey.Parameters[0].Value = key;
        if (_deleteKey.ExecuteNonQuery() == 0)
        {
            return new WriteResult(false, _batchRevision, null);
        }

        long revision = _batchRevision + 1;
        LogDelete(key, revision);
        _batchRevision = revision;
        return new WriteResult(true, revision, null);
    }

    public TxnResult Txn(TxnRequest request, out StateStoreException? rejection)
    {
        // The rows the compares read, reused by the first write to the same key (a compare-and-swap then looks its key
        // up once, not twice); a write consumes its key's entry, so later operations read again.
        Dictionary<string, KeyValue?>? compared = null;
        bool succeeded = true;
        foreach (var compare in request.Compares)
        {
            var current = Get(compare.Key);
            (compared ??= new Dictionary<string, KeyValue?>(StringComparer.Ordinal))[compare.Key] = current;
            if (!compare.IsSatisfiedBy(current))
            {
                succeeded = false;
                break;
            }
        }

        var ops = succeeded ? request.Success : request.Failure;
        foreach (var op in ops)
        {
            // Checked before the first write, so a rejected transaction leaves nothing behind.
            if (op.Type == TxnOpType.Put && op.Lease != 0 && !IsLeaseLive(op.Lease))
            {
                rejection = SqliteErrors.LeaseNotFound(op.Lease);
                return null!;
            }
        }

        rejection = null;
        long revision = _batchRevision + 1;
        bool wrote = false;
        var results = new List<TxnOpResult>(ops.Count);
        foreach (var op in ops)
        {
            switch (op.Type)
            {
                case TxnOpType.Put:
                    var previous = compared is not null && compared.Remove(op.Key, out var known) ? known : Get(op.Key);
                    Upsert(op.Key, op.Value.ToArray(), revision, op.Lease);
                    wrote = true;
                    results.Add(new TxnOpResult(previous is null ? [] : [previous], 0));
                    break;
                case TxnOpType.Delete:
                    var deleted = compared is not null && compared.Remove(op.Key, out var seen) ? DeleteKnown(op.Key, seen) : DeleteReturning(op.Key);
                    if (deleted is not null)
                    {
                        LogDelete(op.Key, revision);
                        wrote = true;
                    }

                    results.Add(new TxnOpResult(deleted is null ? [] : [deleted], deleted is null ? 0 : 1));
                    break;
                case TxnOpType.DeletePrefix:
                    compared = null;
                    var range = Range(op.Key);
                    if (range.Count > 0)
                    {
                        _deleteRange.Parameters[0].Value = op.Key;
                        _deleteRange.Parameters[1].Value = KeyOrder.PrefixEnd(op.Key);
                        _deleteRange.ExecuteNonQuery();
                        foreach (var kv in range)
                        {
                            LogDelete(kv.Key, revision);
                        }

                        wrote = true;
                    }

                    results.Add(new TxnOpResult(range, range.Count));
                    break;
                case TxnOpType.Get:
                    results.Add(new TxnOpResult(Get(op.Key) is { } found ? [found] : [], 0));
                    break;
                case TxnOpType.Range:
                    results.Add(new TxnOpResult(Range(op.Key), 0));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(request), op.Type, "Unknown transaction operation.");
            }
        }

        if (wrote)
        {
            _batchRevision = revision;
        }

        return new TxnResult(succeeded, _batchRevision, results);
    }

    public bool IsLeaseLive(long leaseId)
    {
        _leaseLive.Parameters[0].Value = leaseId;
        _leaseLive.Parameters[1].Value = NowMilliseconds();
        return _leaseLive.ExecuteScalar() is not null;
    }

    public LeaseGrant GrantLease(long ttlMilliseconds)
    {
        _leaseInsert.Parameters[0].Value = ttlMilliseconds;
        _leaseInsert.Parameters[1].Value = NowMilliseconds();
        long id = (long)_leaseInsert.ExecuteScalar()!;
        return new LeaseGrant(id, TimeSpan.FromMilliseconds(ttlMilliseconds));
    }

    public bool KeepAlive(long leaseId)
    {
        _leaseKeepAlive.Parameters[0].Value = leaseId;
        _leaseKeepAlive.Parameters[1].Value = NowMilliseconds();
        return _leaseKeepAlive.ExecuteNonQuery() == 1;
    }

    /// <summary>Deletes the lease and its keys. False when it did not exist or had already expired (its keys go either way).</summary>
    public bool RevokeLease(long leaseId)
    {
        _leaseDelete.Parameters[0].Value = leaseId;
        if (_leaseDelete.ExecuteScalar() is not long expiresAt)
        {
            return false;
        }

        DeleteLeaseKeys(leaseId);
        return expiresAt > NowMilliseconds();
    }

    /// <summary>Revokes every lease whose expiry has passed; each revocation that deletes keys takes its own revision.</summary>
    public void ExpireLeases()
    {
        _expiredLeases.Parameters[0].Value = NowMilliseconds();
        var expired = new List<long>();
        using (var reader = _expiredLeases.ExecuteReader())
        {
            while (reader.Read())
            {
                expired.Add(reader.GetInt64(0));
            }
        }

        foreach (long leaseId in expired)
        {
            RevokeLease(leaseId);
        }
    }

    public bool Compact(long revision)
    {
        _compactMeta.Parameters[0].Value = revision;
        if (_compactMeta.ExecuteNonQuery() == 0)
        {
            return false;
        }

        _compactLog.Parameters[0].Value = revision;
        _compactLog.ExecuteNonQuery();
        return true;
    }

    public void Dispose()
    {
        foreach (var command in new[]
        {
            _begin, _commit, _rollback, _selectVersion, _selectKv, _selectRange, _upsert, _deleteKey, _deleteKeyReturning, _deleteRange,
            _insertLog, _updateMeta, _leaseLive, _leaseInsert, _leaseKeepAlive, _leaseDelete, _leaseKeys, _leaseDeleteKeys,
            _expiredLeases, _compactMeta, _compactLog, _checkpoint,
        })
        {
            command.Dispose();
        }

        _connection.Dispose();
    }

    private static void FailAll(List<PendingWrite> batch, Exception exception)
    {
        foreach (var write in batch)
        {
            write.Fail(exception);
        }
    }

    private void DeleteLeaseKeys(long leaseId)
    {
        _leaseKeys.Parameters[0].Value = leaseId;
        var keys = new List<string>();
        using (var reader = _leaseKeys.ExecuteReader())
        {
            while (reader.Read())
            {
                keys.Add(reader.GetString(0));
            }
        }

        if (keys.Count == 0)
        {
            return;
        }

        _leaseDeleteKeys.Parameters[0].Value = leaseId;
        _leaseDeleteKeys.ExecuteNonQuery();
        long revision = _batchRevision + 1;
        foreach (string key in keys)
        {
            LogDelete(key, revision);
        }

        _batchRevision = revision;
    }

    private KeyValue? DeleteReturning(string key)
    {
        _deleteKeyReturning.Parameters[0].Value = key;
        return Schema.ReadOne(_deleteKeyReturning);
    }

    /// <summary>Deletes a key whose current row this transaction has already read (<paramref name="current"/>, null when absent).</summary>
    private KeyValue? DeleteKnown(string key, KeyValue? current)
    {
        if (current is null)
        {
            return null;
        }

        _deleteKey.Parameters[0].Value = key;
        _deleteKey.ExecuteNonQuery();
        return current;
    }

    private long ModRevisionOf(string key)
    {
        _selectVersion.Parameters[0].Value = key;
        return _selectVersion.ExecuteScalar() is long modRevision ? modRevision : 0;
    }

    private KeyValue Upsert(string key, byte[] value, long revision, long lease)
    {
        var parameters = _upsert.Parameters;
        parameters[0].Value = key;
        parameters[1].Value = value;
        parameters[2].Value = revision;
        parameters[3].Value = lease;
        long createRevision;
        long version;
        using (var reader = _upsert.ExecuteReader())
        {
            reader.Read();
            createRevision = reader.GetInt64(0);
            version = reader.GetInt64(1);
        }

        var kv = new KeyValue(key, value, createRevision, revision, version, lease);
        Log(Schema.LogPut, kv, value);
        _events.Add(new WatchEvent(WatchEventType.Put, kv));
        return kv;
    }

    private void LogDelete(string key, long revision)
    {
        var kv = new KeyValue(key, ReadOnlyMemory<byte>.Empty, 0, revision, 0, 0);
        Log(Schema.LogDelete, kv, null);
        _events.Add(new WatchEvent(WatchEventType.Delete, kv));
    }

    private void Log(int type, KeyValue kv, byte[]? value)
    {
        var parameters = _insertLog.Parameters;
        parameters[0].Value = ++_batchLogId;
        parameters[1].Value = kv.ModRevision;
        parameters[2].Value = kv.Key;
        parameters[3].Value = value is null ? DBNull.Value : value;
        parameters[4].Value = type;
        parameters[5].Value = kv.CreateRevision;
        parameters[6].Value = kv.Version;
        parameters[7].Value = kv.Lease;
        _insertLog.ExecuteNonQuery();
    }

    private bool InTransaction => raw.sqlite3_get_autocommit(_connection.Handle) == 0;

    /// <summary>Rolls the open transaction back after <paramref name="exception"/> and returns the error to report.</summary>
    private StateStoreException RollBackAfter(Exception exception, string action)
    {
        var error = SqliteErrors.Translate(exception, action);
        try
        {
            // SQLite has already rolled back after some errors (SQLITE_FULL, SQLITE_IOERR); ROLLBACK would then fail.
            if (InTransaction)
            {
                _rollback.ExecuteNonQuery();
            }

            return error;
        }
        catch (Exception rollbackFailure)
        {
            return new StateStoreException(
                $"{error.Message} Rolling back also failed: {rollbackFailure.Message}", error.IsTransient, new AggregateException(exception, rollbackFailure));
        }
    }

    private long NowMilliseconds() => _time.GetUtcNow().ToUnixTimeMilliseconds();
}
