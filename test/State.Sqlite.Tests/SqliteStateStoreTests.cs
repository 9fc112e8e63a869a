using System.Text;
using Holdfast.Testing;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Holdfast.State.Sqlite.Tests;

/// <summary>What the SQLite backend promises beyond the shared contract: WAL, group commit, overflow policy, clear open errors.</summary>
public sealed class SqliteStateStoreTests : IDisposable
{
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _directory = new();
    private readonly ManualTimeProvider _time = new();

    private string DatabasePath => _directory.Combine("state.db");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task OpenAsync_NewFile_UsesWriteAheadLog()
    {
        await using var store = await OpenAsync();
        await store.PutAsync("/a", "v"u8.ToArray(), null, CancellationToken.None);

        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", command.ExecuteScalar() as string);
        Assert.True(File.Exists(DatabasePath + "-wal"));
    }

    [Fact]
    public async Task PutAsync_200ConcurrentWriters_AllAcknowledgedAndPresentAfterReopen()
    {
        var store = await OpenAsync();
        var puts = Enumerable.Range(0, 200)
            .Select(i => Task.Run(async () => await store.PutAsync($"/g/{i:D3}", Encoding.UTF8.GetBytes($"value {i}"), 0, CancellationToken.None)))
            .ToList();
        var results = await Task.WhenAll(puts).WaitAsync(WaitTimeout);
        await store.DisposeAsync();

        await using var reopened = await OpenAsync();
        var stored = await reopened.RangeAsync(new RangeRequest("/g/"), CancellationToken.None);

        Assert.All(results, r => Assert.True(r.Succeeded));
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), results.Select(r => r.Revision).Order());
        Assert.Equal(200, stored.Items.Count);
        Assert.All(stored.Items, kv => Assert.Equal($"value {int.Parse(kv.Key[3..], System.Globalization.CultureInfo.InvariantCulture)}", Encoding.UTF8.GetString(kv.Value.Span)));
        Assert.Equal(200, await reopened.GetRevisionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task PutAsync_UnknownLeaseAmongConcurrentWrites_FailsAloneWithoutPoisoningTheBatch()
    {
        await using var store = await OpenAsync();

        var good = Enumerable.Range(0, 50).Select(i => store.PutAsync($"/b/{i}", "v"u8.ToArray(), null, CancellationToken.None).AsTask()).ToList();
        var bad = store.PutAsync("/b/bad", "v"u8.ToArray(), null, CancellationToken.None, lease: 999).AsTask();
        var more = Enumerable.Range(50, 50).Select(i => store.PutAsync($"/b/{i}", "v"u8.ToArray(), null, CancellationToken.None).AsTask()).ToList();

        var error = await Assert.ThrowsAsync<StateStoreException>(() => bad);
        var results = await Task.WhenAll(good.Concat(more));
        Assert.False(error.IsTransient);
        Assert.All(results, r => Assert.True(r.Succeeded));
        Assert.Equal(100, (await store.RangeAsync(new RangeRequest("/b/"), CancellationToken.None)).Items.Count);
        Assert.Equal(100, await store.GetRevisionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task DisposeAsync_WithQueuedWrites_AppliesThemBeforeClosing()
    {
        var store = await OpenAsync();
        var pending = Enumerable.Range(0, 100).Select(i => store.PutAsync($"/d/{i}", "v"u8.ToArray(), null, CancellationToken.None).AsTask()).ToList();

        await store.DisposeAsync();

        Assert.All(await Task.WhenAll(pending), r => Assert.True(r.Succeeded));
        await using var reopened = await OpenAsync();
        Assert.Equal(100, (await reopened.RangeAsync(new RangeRequest("/d/"), CancellationToken.None)).Items.Count);
    }

    [Fact]
    public async Task DisposeAsync_OpenWatch_EndsWithNonTransientError()
    {
        var store = await OpenAsync();
        await store.PutAsync("/w/a", "v"u8.ToArray(), null, CancellationToken.None);
        await using var enumerator = store.WatchAsync("/w/", 0, CancellationToken.None).GetAsyncEnumerator();
        Assert.True(await enumerator.MoveNextAsync());
        var pending = enumerator.MoveNextAsync().AsTask();

        await store.DisposeAsync();

        var error = await Assert.ThrowsAsync<StateStoreException>(() => pending.WaitAsync(WaitTimeout));
        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task TxnAsync_ComparedKeysWrittenSeveralTimes_ResultsReflectEachStep()
    {
        await using var store = await OpenAsync();
        var first = await store.PutAsync("/m/a", "v1"u8.ToArray(), null, CancellationToken.None);
        await store.PutAsync("/m/p/1", "x"u8.ToArray(), null, CancellationToken.None);

        // The compares read /m/a and /m/b; the operations then write, delete and rewrite them, so a row read by a compare
        // may stand for the key only until the first write to it.
        var result = await store.TxnAsync(
            new TxnRequest(
                [Compare.ModRevisionIs("/m/a", first.Revision), Compare.Absent("/m/b"), Compare.Exists("/m/p/1")],
                [TxnOp.Put("/m/a", "v2"u8.ToArray()), TxnOp.Delete("/m/a"), TxnOp.Put("/m/a", "v3"u8.ToArray()), TxnOp.Delete("/m/b"), TxnOp.Put("/m/b", "b"u8.ToArray()), TxnOp.DeletePrefix("/m/p/"), TxnOp.Delete("/m/p/1")]),
            CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Equal("v1", Encoding.UTF8.GetString(Assert.Single(result.Results[0].Kvs).Value.Span));
        Assert.Equal("v2", Encoding.UTF8.GetString(Assert.Single(result.Results[1].Kvs).Value.Span));
        Assert.Equal(1, result.Results[1].Deleted);
        Assert.Empty(result.Results[2].Kvs);
        Assert.Empty(result.Results[3].Kvs);
        Assert.Equal(0, result.Results[3].Deleted);
        Assert.Empty(result.Results[4].Kvs);
        Assert.Equal(1, result.Results[5].Deleted);
        Assert.Empty(result.Results[6].Kvs);
        Assert.Equal(0, result.Results[6].Deleted);
        Assert.Equal("v3", Encoding.UTF8.GetString((await store.GetAsync("/m/a", CancellationToken.None))!.Value.Span));
        Assert.Equal("b", Encoding.UTF8.GetString((await store.GetAsync("/m/b", CancellationToken.None))!.Value.Span));
        Assert.Null(await store.GetAsync("/m/p/1", CancellationToken.None));
    }

    [Fact]
    public async Task TxnAsync_CompareThenDeleteExistingKey_ReturnsDeletedRowAndDeletes()
    {
        await using var store = await OpenAsync();
        var written = await store.PutAsync("/d/a", "v"u8.ToArray(), null, CancellationToken.None);

        var result = await store.TxnAsync(new TxnRequest([Compare.ModRevisionIs("/d/a", written.Revision)], [TxnOp.Delete("/d/a")]), CancellationToken.None);

        Assert.True(result.Succeeded);
        var deleted = Assert.Single(result.Results[0].Kvs);
        Assert.Equal(written.Revision, deleted.ModRevision);
        Assert.Equal(1, result.Results[0].Deleted);
        Assert.Null(await store.GetAsync("/d/a", CancellationToken.None));
        Assert.Equal(written.Revision + 1, result.Revision);
    }

    [Fact]
    public async Task GetAsync_MoreRecentlyWrittenKeysThanKept_EveryReadSeesTheNewestRow()
    {
        await using var store = await OpenAsync();
        var revisions = new Dictionary<string, long>();
        for (int round = 0; round < 2; round++)
        {
            // 2,500 keys: more than the writer keeps, so reads mix kept rows and SQLite reads.
            var writes = Enumerable.Range(0, 2500).Select(async i =>
            {
                var key = $"/r/{i:D4}";
                var result = await store.PutAsync(key, Encoding.UTF8.GetBytes($"{round}-{i}"), null, CancellationToken.None);
                return (key, result.Revision);
            });
            foreach (var (key, revision) in await Task.WhenAll(writes))
            {
                revisions[key] = revision;
            }

            foreach (var (key, revision) in revisions)
            {
                var kv = await store.GetAsync(key, CancellationToken.None);
                Assert.NotNull(kv);
                Assert.Equal(revision, kv.ModRevision);
                Assert.Equal(round + 1, kv.Version);
                Assert.Equal($"{round}-{int.Parse(key.AsSpan(3), System.Globalization.CultureInfo.InvariantCulture)}", Encoding.UTF8.GetString(kv.Value.Span));
            }
        }

        await store.DeleteAsync("/r/0007", null, CancellationToken.None);
        await store.TxnAsync(new TxnRequest([], [TxnOp.DeletePrefix("/r/24")]), CancellationToken.None);
        Assert.Null(await store.GetAsync("/r/0007", CancellationToken.None));
        Assert.Null(await store.GetAsync("/r/2499", CancellationToken.None));
        Assert.NotNull(await store.GetAsync("/r/2399", CancellationToken.None));
    }

    [Fact]
    public async Task GetAsync_WhileAnotherTaskWrites_NeverSeesAnOlderRowThanAcknowledged()
    {
        await using var store = await OpenAsync();
        long acknowledged = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var writer = Task.Run(async () =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                var result = await store.TxnAsync(
                    new TxnRequest([], [TxnOp.Put("/c/a", BitConverter.GetBytes(i)), TxnOp.Put("/c/b", BitConverter.GetBytes(i))]), CancellationToken.None);
                Volatile.Write(ref acknowledged, result.Revision);
            }
        });

        long reads = 0;
        while (!writer.IsCompleted)
        {
            long before = Volatile.Read(ref acknowledged);
            var a = await store.GetAsync("/c/a", CancellationToken.None);
            var b = await store.GetAsync("/c/b", CancellationToken.None);
            if (before > 0)
            {
                // Both keys are written by every transaction: a read after another sees the same or a later one.
                Assert.True(a!.ModRevision >= before, $"read revision {a.ModRevision} after {before} was acknowledged");
                Assert.True(b!.ModRevision >= a.ModRevision, $"/c/b at {b.ModRevision} read after /c/a at {a.ModRevision}");
                reads++;
            }
        }

        await writer;
        Assert.True(reads > 0);
    }

    [Fact]
    public async Task PutAsync_ManyCommits_BackgroundCheckpointCopiesTheWalIntoTheDatabaseFile()
    {
        await using var store = await OpenAsync(new SqliteStateStoreOptions { CheckpointEveryCommits = 16 });
        var value = new byte[2048];
        for (int i = 0; i < 200; i++)
        {
            await store.PutAsync($"/ck/{i:D3}", value, null, CancellationToken.None);
        }

        // 200 writes of 2 KiB take at least 100 pages; only a checkpoint puts them in the database file itself.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (new FileInfo(DatabasePath).Length < 100 * 4096 && waited.Elapsed < WaitTimeout)
        {
            await Task.Delay(20);
        }

        Assert.True(new FileInfo(DatabasePath).Length >= 100 * 4096, $"database file is {new FileInfo(DatabasePath).Length} bytes");
    }

    [Fact]
    public async Task PutAsync_UnbrokenConcurrentWrites_WalStartsOverInsteadOfGrowing()
    {
        await using var store = await OpenAsync(new SqliteStateStoreOptions { CheckpointEveryCommits = 4, WalFramesBeforeWriterCheckpoint = 256 });
        var value = new byte[2048];
        await Task.WhenAll(Enumerable.Range(0, 64).Select(async worker =>
        {
            for (int i = 0; i < 40; i++)
            {
                await store.PutAsync($"/wal/{worker:D2}/{i:D2}", value, null, CancellationToken.None);
            }
        }));

        // 2,560 writes of 2 KiB put at least 1,280 frames (5 MiB) through the WAL, and the log doubles that: a WAL
        // that never started over is 10 MiB or more. One that did stays near the bound (256 frames, 1 MiB) plus what
        // a batch adds, and a few MiB more when a busy machine delays a restart (4.4 MiB seen in a loaded CI run).
        long walBytes = new FileInfo(DatabasePath + "-wal").Length;
        Assert.True(walBytes < 6 * 1024 * 1024, $"WAL is {walBytes} bytes");
        for (int worker = 0; worker < 64; worker += 9)
        {
            Assert.NotNull(await store.GetAsync($"/wal/{worker:D2}/39", CancellationToken.None));
        }
    }

    [Fact]
    public async Task WatchAsync_ConsumerFallsBehindBuffer_EndsWithTransientErrorAfterBufferedEvents()
    {
        await using var store = await OpenAsync(new SqliteStateStoreOptions { WatchBufferCapacity = 4 });
        await store.PutAsync("/w/0", "v"u8.ToArray(), null, CancellationToken.None);
        await using var enumerator = store.WatchAsync("/w/", 0, CancellationToken.None).GetAsyncEnumerator();

        // The first (replayed) event proves the watch is subscribed before the burst below.
        Assert.True(await enumerator.MoveNextAsync());
        for (int i = 1; i <= 10; i++)
        {
            await store.PutAsync($"/w/{i}", "v"u8.ToArray(), null, CancellationToken.None);
        }

        var received = new List<long>();
        var error = await Assert.ThrowsAsync<StateStoreException>(async () =>
        {
            while (await enumerator.MoveNextAsync().AsTask().WaitAsync(WaitTimeout))
            {
                received.Add(enumerator.Current.Revision);
            }
        });
        Assert.True(error.IsTransient);
        Assert.Equal([2L, 3L, 4L, 5L], received);

        // Re-watching from the last revision received loses nothing.
        await using var again = store.WatchAsync("/w/", received[^1], CancellationToken.None).GetAsyncEnumerator();
        for (long expected = 6; expected <= 11; expected++)
        {
            Assert.True(await again.MoveNextAsync());
            Assert.Equal(expected, again.Current.Revision);
        }
    }

    [Fact]
    public async Task WatchAsync_HistoryLongerThanOnePage_ReplaysEveryEventOnce()
    {
        await using var store = await OpenAsync();
        for (int batch = 0; batch < 6; batch++)
        {
            // Transactions of 100 keys put several events on one revision, so pages split inside revisions.
            var ops = Enumerable.Range(0, 100).Select(i => TxnOp.Put($"/h/{batch}/{i:D3}", "v"u8.ToArray())).ToList();
            await store.TxnAsync(new TxnRequest([], ops), CancellationToken.None);
        }

        var seen = new List<(long, string)>();
        await using var enumerator = store.WatchAsync("/h/", 0, CancellationToken.None).GetAsyncEnumerator();
        while (seen.Count < 600)
        {
            Assert.True(await enumerator.MoveNextAsync());
            seen.Add((enumerator.Current.Revision, enumerator.Current.Kv.Key));
        }

        var expected = Enumerable.Range(0, 6).SelectMany(b => Enumerable.Range(0, 100).Select(i => ((long)b + 1, $"/h/{b}/{i:D3}")));
        Assert.Equal(expected, seen);
    }

    [Fact]
    public async Task WatchAsync_CompactionDuringReplay_ThrowsRevisionCompacted()
    {
        await using var store = await OpenAsync();
        for (int i = 0; i < 600; i++)
        {
            await store.PutAsync($"/c/{i}", "v"u8.ToArray(), null, CancellationToken.None);
        }

        await using var enumerator = store.WatchAsync("/c/", 0, CancellationToken.None).GetAsyncEnumerator();
        Assert.True(await enumerator.MoveNextAsync());
        await store.CompactAsync(500, CancellationToken.None);

        await Assert.ThrowsAsync<RevisionCompactedException>(async () =>
        {
            while (await enumerator.MoveNextAsync())
            {
            }
        });
    }

    [Fact]
    public async Task PutAsync_FileLockedByAnotherConnection_FailsTransientlyThenRecovers()
    {
        await using var store = await OpenAsync(new SqliteStateStoreOptions { BusyTimeout = TimeSpan.FromSeconds(1) });
        using (var intruder = new SqliteConnection($"Data Source={DatabasePath};Pooling=false"))
        {
            intruder.Open();
            using var command = intruder.CreateCommand();
            command.CommandText = "BEGIN IMMEDIATE";
            command.ExecuteNonQuery();

            var error = await Assert.ThrowsAsync<StateStoreException>(async () => await store.PutAsync("/a", "v"u8.ToArray(), null, CancellationToken.None));

            Assert.True(error.IsTransient);
            Assert.IsType<SqliteException>(error.InnerException);
        }

        var retried = await store.PutAsync("/a", "v"u8.ToArray(), null, CancellationToken.None);
        Assert.Equal((true, 1L), (retried.Succeeded, retried.Revision));
        Assert.Equal(1, await store.GetRevisionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task OpenAsync_MissingFolder_ThrowsNonTransientNamingThePath()
    {
        string path = _directory.Combine(Path.Combine("missing", "state.db"));

        var error = await Assert.ThrowsAsync<StateStoreException>(() => SqliteStateStore.OpenAsync(path, new(), _time, CancellationToken.None));

        Assert.False(error.IsTransient);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAsync_FileIsNotADatabase_ThrowsNonTransient()
    {
        await File.WriteAllTextAsync(DatabasePath, new string('x', 8192));

        var error = await Assert.ThrowsAsync<StateStoreException>(() => SqliteStateStore.OpenAsync(DatabasePath, new(), _time, CancellationToken.None));

        Assert.False(error.IsTransient);
        Assert.Contains(DatabasePath, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAsync_PathIsAFolder_ThrowsNonTransient()
    {
        var error = await Assert.ThrowsAsync<StateStoreException>(() => SqliteStateStore.OpenAsync(_directory.Path, new(), _time, CancellationToken.None));

        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task OpenAsync_NewerSchema_ThrowsNonTransient()
    {
        await (await OpenAsync()).DisposeAsync();
        using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=false"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version = 99";
            command.ExecuteNonQuery();
        }

        var error = await Assert.ThrowsAsync<StateStoreException>(() => OpenAsync());

        Assert.False(error.IsTransient);
        Assert.Contains("99", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompactAsync_FutureRevision_ThrowsArgumentOutOfRange()
    {
        await using var store = await OpenAsync();
        await store.PutAsync("/a", "v"u8.ToArray(), null, CancellationToken.None);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.CompactAsync(2, CancellationToken.None));
    }

    private Task<SqliteStateStore> OpenAsync(SqliteStateStoreOptions? options = null) =>
        SqliteStateStore.OpenAsync(DatabasePath, options ?? new SqliteStateStoreOptions(), _time, CancellationToken.None);
}
