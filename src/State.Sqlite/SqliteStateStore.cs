using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Holdfast.State.Sqlite;

/// <summary>
/// The embedded <see cref="IStateStore"/>: one SQLite file in WAL mode with <c>synchronous=FULL</c>, so every
/// acknowledged write is durable. Writes go through one writer task that drains up to
/// <see cref="SqliteStateStoreOptions.MaxBatchSize"/> queued requests into one transaction (group commit: one fsync
/// for the batch, one revision per successful write). Reads run on pooled read connections and never queue behind
/// the writer; a point read of a recently written key is served from the rows the writer kept after its commit
/// (<see cref="RecentWrites"/>). Watches replay the <c>log</c> table and then follow an in-process fan-out. Leases are rows with an
/// absolute expiry, checked every <see cref="SqliteStateStoreOptions.LeaseCheckInterval"/> on the injected
/// <see cref="TimeProvider"/>; expiry deletes their keys through the writer, so watchers see the deletes.
/// Put (or a transaction's Put) with a lease that does not exist or has expired throws a non-transient
/// <see cref="StateStoreException"/> and writes nothing. One process owns a database file at a time.
/// </summary>
public sealed class SqliteStateStore : IStateStore
{
    private const int HistoryPageSize = 256;

    private readonly SqliteStateStoreOptions _options;
    private readonly StoreWriter _writer;
    private readonly ReadConnectionPool _readers;
    private readonly Checkpointer _checkpointer;
    private readonly Channel<PendingWrite> _queue =
        Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });

    private readonly Lock _watchGate = new();
    private readonly ITimer _leaseTimer;
    private readonly Task _writerTask;
    private readonly ManualResetEventSlim _writerWake = new(initialState: false, spinCount: 1);
    private readonly Action _expiryPicked;
    private Watcher[] _watchers = [];
    private int _expiryQueued;
    private int _disposed;

    private SqliteStateStore(string path, SqliteStateStoreOptions options, TimeProvider timeProvider, StoreWriter writer)
    {
        Path = path;
        _options = options;
        _writer = writer;
        _readers = new ReadConnectionPool(path, options.MaxIdleReadConnections, options.BusyTimeoutSeconds);
        _checkpointer = new Checkpointer(path, options.BusyTimeoutSeconds);
        _expiryPicked = () => Volatile.Write(ref _expiryQueued, 0);
        // The writer blocks in SQLite and fsync; it gets a thread of its own so it never holds one of the pool's
        // few threads (two on the reference machine) while the disk syncs.
        _writerTask = Task.Factory.StartNew(RunWriter, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        _leaseTimer = timeProvider.CreateTimer(
            static state => ((SqliteStateStore)state!).QueueLeaseExpiry(), this, options.LeaseCheckInterval, options.LeaseCheckInterval);
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens (creating if needed) the store at <paramref name="path"/>; its folder must exist. Throws a
    /// <see cref="StateStoreException"/> that names the path when the file cannot be opened, is not a database or has
    /// a newer schema.
    /// </summary>
    public static Task<SqliteStateStore> OpenAsync(string path, SqliteStateStoreOptions options, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();

        // SQLite has no asynchronous I/O; opening is a few milliseconds of file work done on the caller's thread.
        SqliteConnection? connection = null;
        try
        {
            connection = Schema.Open(path, writer: true, options.BusyTimeoutSeconds);
            Schema.Create(connection, path);
            var writer = new StoreWriter(connection, timeProvider);
            connection = null;
            return Task.FromResult(new SqliteStateStore(path, options, timeProvider, writer));
        }
        catch (SqliteException exception)
        {
            throw new StateStoreException(
                $"Cannot open the state store at '{path}': {exception.Message} (SQLite error {exception.SqliteExtendedErrorCode}).",
                SqliteErrors.IsTransient(exception),
                exception);
        }
        finally
        {
            connection?.Dispose();
        }
    }

    /// <summary>
    /// Copies the store file at <paramref name="sourcePath"/> to a new file at <paramref name="destinationPath"/> as one
    /// consistent snapshot, with SQLite's online backup in a single step (one read transaction on the source). Safe
    /// while a server writes to the source (WAL readers never block it), and never writes to the source.
    /// </summary>
    public static void CopyConsistent(string sourcePath, string destinationPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(sourcePath);
        ArgumentException.ThrowIfNullOrEmpty(destinationPath);
        if (!File.Exists(sourcePath))
        {
            throw new StateStoreException($"There is no state store at '{sourcePath}'.", isTransient: false);
        }

        try
        {
            using var source = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = sourcePath, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 30 }.ConnectionString);
            using var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = destinationPath, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ConnectionString);
            source.Open();
            destination.Open();
            source.BackupDatabase(destination);
        }
        catch (SqliteException exception)
        {
            throw new StateStoreException(
                $"Cannot copy the state store at '{sourcePath}': {exception.Message} (SQLite error {exception.SqliteExtendedErrorCode}).",
                SqliteErrors.IsTransient(exception),
                exception);
        }
    }

    public ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(_writer.CommittedRevision);
    }

    public ValueTask<KeyValue?> GetAsync(string key, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        if (_writer.Recent.TryGet(key, out var recent))
        {
            return ValueTask.FromResult(recent);
        }

        return ValueTask.FromResult(Read(key, static (connection, key) => connection.Get(key), "Reading a key"));
    }

    public ValueTask<RangeResult> RangeAsync(RangeRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Prefix, nameof(request));
        ArgumentOutOfRangeException.ThrowIfNegative(request.Limit, nameof(request));
        ArgumentOutOfRangeException.ThrowIfNegative(request.Revision, nameof(request));
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(request, static (connection, request) => connection.RangePage(request), "Reading a range"));
    }

    public ValueTask<WriteResult> PutAsync(string key, ReadOnlyMemory<byte> value, long? expectedModRevision, CancellationToken cancellationToken, long lease = 0)
    {
        ValidateKey(key);
        ValidateExpected(expectedModRevision);
        ArgumentOutOfRangeException.ThrowIfNegative(lease);
        cancellationToken.ThrowIfCancellationRequested();
        var write = new PutWrite(key, value.ToArray(), expectedModRevision, lease, cancellationToken);
        Enqueue(write);
        return write.Task;
    }

    public ValueTask<WriteResult> DeleteAsync(string key, long? expectedModRevision, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        ValidateExpected(expectedModRevision);
        cancellationToken.ThrowIfCancellationRequested();
        var write = new DeleteWrite(key, expectedModRevision, cancellationToken);
        Enqueue(write);
        return write.Task;
    }

    public ValueTask<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken)
    {
        ValidateTxn(request);
        cancellationToken.ThrowIfCancellationRequested();
        if (TxnCompares.IsReadOnly(request))
        {
            return ValueTask.FromResult(Read(request, static (connection, request) => connection.ReadOnlyTxn(request), "Reading in a transaction"));
        }

        var write = new TxnWrite(request, cancellationToken);
        Enqueue(write);
        return write.Task;
    }

    public async IAsyncEnumerable<WatchEvent> WatchAsync(string prefix, long afterRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentOutOfRangeException.ThrowIfNegative(afterRevision);

        // Subscribe before reading history: an event committed after the last history snapshot is then surely in
        // the live buffer, and one in both is skipped by revision. No gap, no duplicate.
        var watcher = new Watcher(prefix, _options.WatchBufferCapacity);
        lock (_watchGate)
        {
            // Checked under the lock DisposeAsync takes to end watches, so no watch outlives the store unended.
            ThrowIfDisposed();
            _watchers = [.. _watchers, watcher];
        }

        try
        {
            var cursor = new ReplayCursor(prefix, afterRevision);
            while (!cursor.Done)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var page = Read(cursor, static (connection, cursor) => connection.ReadHistory(cursor, HistoryPageSize), "Replaying watch history");
                foreach (var change in page)
                {
                    yield return change;
                }
            }

            long replayedThrough = cursor.ReplayedThrough;
            var live = watcher.Events;
            while (await live.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (live.TryRead(out var change))
                {
                    if (change.Revision > replayedThrough)
                    {
                        yield return change;
                    }
                }
            }
        }
        finally
        {
            RemoveWatcher(watcher);
        }
    }

    /// <summary>Grants a lease whose TTL is <paramref name="ttl"/> rounded up to whole milliseconds.</summary>
    public ValueTask<LeaseGrant> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        cancellationToken.ThrowIfCancellationRequested();
        var write = new GrantLeaseWrite((long)Math.Ceiling(ttl.TotalMilliseconds), cancellationToken);
        Enqueue(write);
        return write.Task;
    }

    public ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var write = new KeepAliveWrite(leaseId, cancellationToken);
        Enqueue(write);
        return write.Task;
    }

    public ValueTask<bool> RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var write = new RevokeLeaseWrite(leaseId, cancellationToken);
        Enqueue(write);
        return write.Task;
    }

    /// <summary>
    /// Discards history at and below <paramref name="revision"/>. Compacting at or below the current compacted revision
    /// is a no-op; a revision above the current one is an <see cref="ArgumentOutOfRangeException"/> (as etcd's "future revision").
    /// </summary>
    public async ValueTask CompactAsync(long revision, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(revision);
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfGreaterThan(revision, _writer.CommittedRevision);
        cancellationToken.ThrowIfCancellationRequested();
        var write = new CompactWrite(revision, cancellationToken);
        Enqueue(write);
        await write.Task.ConfigureAwait(false);
    }

    /// <summary>Stops accepting requests, applies every request already queued, ends open watches and closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _leaseTimer.DisposeAsync().ConfigureAwait(false);
        _queue.Writer.TryComplete();
        await _writerTask.ConfigureAwait(false);
        _writerWake.Dispose();

        Watcher[] watchers;
        lock (_watchGate)
        {
            (watchers, _watchers) = (_watchers, []);
        }

        foreach (var watcher in watchers)
        {
            watcher.End(new StateStoreException($"The state store at '{Path}' was closed.", isTransient: false));
        }

        _checkpointer.Dispose();
        _readers.Dispose();
        _writer.Dispose();
    }

    private static void ValidateKey(string key) => ArgumentException.ThrowIfNullOrEmpty(key);

    private static void ValidateExpected(long? expectedModRevision)
    {
        if (expectedModRevision is { } expected)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(expected, nameof(expectedModRevision));
        }
    }

    private static void ValidateTxn(TxnRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Compares, nameof(request));
        ArgumentNullException.ThrowIfNull(request.Success, nameof(request));
        ArgumentNullException.ThrowIfNull(request.Failure, nameof(request));
        foreach (var compare in request.Compares)
        {
            ArgumentNullException.ThrowIfNull(compare, nameof(request));
            ArgumentException.ThrowIfNullOrEmpty(compare.Key, nameof(request));
        }

        foreach (var op in request.Success.Concat(request.Failure))
        {
            ArgumentNullException.ThrowIfNull(op, nameof(request));
            ArgumentNullException.ThrowIfNull(op.Key, nameof(request));
            if (op.Type is TxnOpType.Put or TxnOpType.Delete or TxnOpType.Get && op.Key.Length == 0)
            {
                throw new ArgumentException($"A {op.Type} operation needs a non-empty key.", nameof(request));
            }

            ArgumentOutOfRangeException.ThrowIfNegative(op.Lease, nameof(request));
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private void Enqueue(PendingWrite write)
    {
        if (!_queue.Writer.TryWrite(write))
        {
            throw new ObjectDisposedException(GetType().FullName, "The state store has been disposed.");
        }
    }

    private T Read<TState, T>(TState state, Func<ReadConnection, TState, T> read, string action)
    {
        ThrowIfDisposed();
        ReadConnection connection;
        try
        {
            connection = _readers.Rent();
        }
        catch (SqliteException exception)
        {
            throw SqliteErrors.Translate(exception, action);
        }

        try
        {
            return read(connection, state);
        }
        catch (SqliteException exception)
        {
            throw SqliteErrors.Translate(exception, action);
        }
        finally
        {
            _readers.Return(connection);
        }
    }

    private void RunWriter()
    {
        var reader = _queue.Reader;
        var batch = new List<PendingWrite>(_options.MaxBatchSize);
        int commits = 0;
        while (WaitForWrites(reader))
        {
            while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var write))
            {
                if (write.CancellationToken.IsCancellationRequested)
                {
                    write.Fail(new OperationCanceledException(write.CancellationToken));
                }
                else
                {
                    batch.Add(write);
                }
            }

            if (batch.Count > 0)
            {
                try
                {
                    _writer.ApplyBatch(batch, Publish);
                }
                catch (Exception exception)
                {
                    // A defect must neither strand callers nor stop the only writer: fail what the batch left
                    // unanswered and go on (the next batch rolls back any transaction left open).
                    _writer.Recent.Abandon();
                    var error = SqliteErrors.Translate(exception, "Applying writes");
                    foreach (var write in batch)
                    {
                        write.Fail(error);
                    }
                }

                batch.Clear();
                if (++commits >= _options.CheckpointEveryCommits)
                {
                    commits = 0;
                    _checkpointer.Request();
                }

                if (_checkpointer.WalFrames >= _options.WalFramesBeforeWriterCheckpoint)
                {
                    // Caught up (or failed, and the checkpointer's next run reports the size again): ask again later.
                    _checkpointer.Observed(_writer.Checkpoint() >= 0 ? 0 : -1);
                }
            }
        }
    }

    /// <summary>
    /// Blocks the writer's own thread until writes are queued; false once the queue is completed (dispose). It parks
    /// on an event with almost no spinning: on two cores a spinning writer takes CPU from the requests that feed it.
    /// </summary>
    private bool WaitForWrites(System.Threading.Channels.ChannelReader<PendingWrite> reader)
    {
        var wait = reader.WaitToReadAsync();
        if (wait.IsCompletedSuccessfully)
        {
            return wait.Result;
        }

        var pending = wait.AsTask();
        _writerWake.Reset();
        pending.GetAwaiter().UnsafeOnCompleted(_writerWake.Set);
        _writerWake.Wait();
        return pending.GetAwaiter().GetResult();
    }

    private void Publish(List<WatchEvent> events)
    {
        Watcher[] watchers;
        lock (_watchGate)
        {
            watchers = _watchers;
        }

        foreach (var watcher in watchers)
        {
            if (!watcher.Offer(events))
            {
                RemoveWatcher(watcher);
            }
        }
    }

    private void RemoveWatcher(Watcher watcher)
    {
        lock (_watchGate)
        {
            int index = Array.IndexOf(_watchers, watcher);
            if (index >= 0)
            {
                _watchers = [.. _watchers.AsSpan(0, index), .. _watchers.AsSpan(index + 1)];
            }
        }
    }

    private void QueueLeaseExpiry()
    {
        if (Interlocked.CompareExchange(ref _expiryQueued, 1, 0) == 0 && !_queue.Writer.TryWrite(new ExpireLeasesWrite(_expiryPicked)))
        {
            Volatile.Write(ref _expiryQueued, 0);
        }
    }
}
