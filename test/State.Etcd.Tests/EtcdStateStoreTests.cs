using System.Text;
using Holdfast.State.Etcd.Client;
using Holdfast.Testing;
using Xunit;

namespace Holdfast.State.Etcd.Tests;

/// <summary>What the etcd backend does beyond the shared contract: its connection string, key ranges, and etcd's own limits.</summary>
public sealed class EtcdStateStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Parse_SeveralMembers_ReturnsHttpEndpointsInOrder()
    {
        var options = EtcdStateStoreOptions.Parse("etcd://127.0.0.1:2379,localhost:22379,[::1]:32379");

        Assert.Equal(["http://127.0.0.1:2379/", "http://localhost:22379/", "http://[::1]:32379/"], options.Endpoints.Select(e => e.ToString()));
    }

    [Theory]
    [InlineData("http://127.0.0.1:2379")]
    [InlineData("etcd://")]
    [InlineData("etcd://127.0.0.1")]
    [InlineData("etcd://127.0.0.1:0")]
    [InlineData("etcd://127.0.0.1:70000")]
    [InlineData("etcd://127.0.0.1:2379,")]
    [InlineData("etcd://a b:2379")]
    public void Parse_Malformed_ThrowsFormatException(string store)
    {
        Assert.Throws<FormatException>(() => EtcdStateStoreOptions.Parse(store));
    }

    [Theory]
    [InlineData("/a/", "/a0")]
    [InlineData("a\u00FF", "a\u00C4")]
    [InlineData("", "\0")]
    public void Prefix_Text_RangeEndIsPrefixWithLastByteIncremented(string prefix, string expectedEnd)
    {
        var (_, end) = EtcdKeys.Prefix(prefix);

        // "a\u00FF" is 61 C3 BF in UTF-8: the last byte below 0xFF is BF, so the end is 61 C3 C0 (not valid UTF-8).
        byte[] expected = prefix == "a\u00FF" ? [0x61, 0xC3, 0xC0] : Encoding.UTF8.GetBytes(expectedEnd);
        Assert.Equal(expected, end);
    }

    [Fact]
    public async Task TxnAsync_ManyConcurrentSharedRevisionWrites_GroupedIntoFewerRevisions()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using var store = await EtcdStateStore.OpenAsync(new EtcdStateStoreOptions { Endpoints = [etcd.ClientUrl], MaxTxnsInFlight = 1 }, CancellationToken.None);
        long before = await store.GetRevisionAsync(CancellationToken.None);

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => store.TxnAsync(
            new TxnRequest([Compare.Absent($"/g/{i}")], [TxnOp.Put($"/g/{i}", Encoding.UTF8.GetBytes("v"))]) { MayShareRevision = true },
            CancellationToken.None).AsTask()));

        // One in flight at a time: the first goes alone, the 39 that queued behind it go as one group.
        Assert.All(results, r => Assert.True(r.Succeeded));
        Assert.InRange(results.Select(r => r.Revision).Distinct().Count(), 1, 10);
        Assert.Equal(results.Select(r => r.Revision).Distinct().Count(), await store.GetRevisionAsync(CancellationToken.None) - before);
    }

    [Fact]
    public async Task TxnAsync_GroupedWithAMemberEtcdRefuses_OnlyThatMemberFails()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using var store = await EtcdStateStore.OpenAsync(new EtcdStateStoreOptions { Endpoints = [etcd.ClientUrl], MaxTxnsInFlight = 1 }, CancellationToken.None);
        var lease = await store.GrantLeaseAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        await store.RevokeLeaseAsync(lease.Id, CancellationToken.None);

        var writes = Enumerable.Range(0, 30).Select(i => store.TxnAsync(
            new TxnRequest([Compare.Absent($"/r/{i}")], [TxnOp.Put($"/r/{i}", Encoding.UTF8.GetBytes("v"), i == 12 ? lease.Id : 0)]) { MayShareRevision = true },
            CancellationToken.None).AsTask()).ToList();
        var refused = await Assert.ThrowsAnyAsync<StateStoreException>(() => writes[12]);

        Assert.False(refused.IsTransient);
        foreach (var write in writes.Where((_, i) => i != 12))
        {
            Assert.True((await write).Succeeded);
        }

        Assert.Equal(29, (await store.RangeAsync(new RangeRequest("/r/"), CancellationToken.None)).Items.Count);
    }

    [Fact]
    public async Task TxnAsync_ConcurrentWritesWithoutSharedRevision_EachGetsItsOwnRevision()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using var store = await EtcdStateStore.OpenAsync(new EtcdStateStoreOptions { Endpoints = [etcd.ClientUrl], MaxTxnsInFlight = 1 }, CancellationToken.None);

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => store.TxnAsync(
            new TxnRequest([Compare.Absent($"/g/{i}")], [TxnOp.Put($"/g/{i}", Encoding.UTF8.GetBytes("v"))]),
            CancellationToken.None).AsTask()));

        Assert.Equal(20, results.Select(r => r.Revision).Distinct().Count());
    }

    [Fact]
    public async Task OpenAsync_NothingListening_ThrowsTransient()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var error = await Assert.ThrowsAnyAsync<StateStoreException>(async () =>
            await EtcdStateStore.OpenAsync(EtcdStateStoreOptions.Parse($"etcd://127.0.0.1:{port}"), CancellationToken.None));

        Assert.True(error.IsTransient);
    }

    [Fact]
    public async Task TxnAsync_SameKeyWrittenTwice_ThrowsNonTransientAndWritesNothing()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using var store = await EtcdStateStore.OpenAsync(new EtcdStateStoreOptions { Endpoints = [etcd.ClientUrl] }, CancellationToken.None);

        // etcd refuses a transaction that writes one key twice ("duplicate key given in txn request"): a documented divergence.
        var error = await Assert.ThrowsAnyAsync<StateStoreException>(async () =>
            await store.TxnAsync(new TxnRequest([], [TxnOp.Put("/t/a", "1"u8.ToArray()), TxnOp.Put("/t/a", "2"u8.ToArray())]), CancellationToken.None));

        Assert.False(error.IsTransient);
        Assert.Equal(EtcdRequestException.InvalidArgument, Assert.IsType<EtcdRequestException>(error).Code);
        Assert.Null(await store.GetAsync("/t/a", CancellationToken.None));
    }

    [Fact]
    public async Task TxnAsync_600Operations_CommitInOneRevision()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using var store = await EtcdStateStore.OpenAsync(new EtcdStateStoreOptions { Endpoints = [etcd.ClientUrl] }, CancellationToken.None);
        var ops = Enumerable.Range(0, 600).Select(i => TxnOp.Put($"/big/{i:D3}", Encoding.UTF8.GetBytes($"{i}"))).ToList();

        var result = await store.TxnAsync(new TxnRequest([Compare.Absent("/big/000")], ops), CancellationToken.None);

        Assert.True(result.Succeeded);
        var stored = (await store.RangeAsync(new RangeRequest("/big/"), CancellationToken.None)).Items;
        Assert.Equal(600, stored.Count);
        Assert.All(stored, kv => Assert.Equal(result.Revision, kv.ModRevision));
    }

    [Fact]
    public async Task DisposeAsync_OpenWatch_EndsWithNonTransientError()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        var store = await EtcdStateStore.OpenAsync(new EtcdStateStoreOptions { Endpoints = [etcd.ClientUrl] }, CancellationToken.None);
        await store.PutAsync("/w/a", "v"u8.ToArray(), null, CancellationToken.None);
        await using var enumerator = store.WatchAsync("/w/", 0, CancellationToken.None).GetAsyncEnumerator();
        Assert.True(await enumerator.MoveNextAsync());
        var pending = enumerator.MoveNextAsync().AsTask();

        await store.DisposeAsync();

        var error = await Assert.ThrowsAnyAsync<StateStoreException>(() => pending.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task GetAsync_FirstEndpointAcceptsButNeverAnswers_RetriesOnTheNext()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using var silent = new SilentMember();
        await using (var direct = await EtcdStateStore.OpenAsync(new EtcdStateStoreOptions { Endpoints = [etcd.ClientUrl] }, CancellationToken.None))
        {
            await direct.PutAsync("/a", "v"u8.ToArray(), null, CancellationToken.None);
        }

        await using var store = StoreBehind(silent, etcd);
        var read = await store.GetAsync("/a", CancellationToken.None);

        Assert.Equal("v", Encoding.UTF8.GetString(read!.Value.Span));
        Assert.Equal(1, silent.Accepted);
    }

    [Fact]
    public async Task PutAsync_FirstEndpointAcceptsButNeverAnswers_FailsTransientWithoutResendingThenMovesOn()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using var silent = new SilentMember();
        await using var store = StoreBehind(silent, etcd);

        // The write reached a member that never answered: its outcome is unknown, so it must not be sent again elsewhere.
        var error = await Assert.ThrowsAnyAsync<StateStoreException>(async () => await store.PutAsync("/a", "v"u8.ToArray(), null, CancellationToken.None));
        var unsent = await store.GetAsync("/a", CancellationToken.None);
        var next = await store.PutAsync("/b", "v"u8.ToArray(), null, CancellationToken.None);

        Assert.True(error.IsTransient);
        Assert.Null(unsent);
        Assert.True(next.Succeeded);
        Assert.Equal(1, silent.Accepted);
    }

    /// <summary>A store whose first endpoint (where its first request goes) is <paramref name="silent"/>, then etcd.</summary>
    private static EtcdStateStore StoreBehind(SilentMember silent, EtcdProcess etcd)
    {
        var options = new EtcdStateStoreOptions { Endpoints = [silent.Url, etcd.ClientUrl], RequestTimeout = TimeSpan.FromMilliseconds(500) };
        return new EtcdStateStore(new EtcdGrpcClient(options), options);
    }

    /// <summary>A TCP listener that accepts connections and never answers: a member hung mid-request.</summary>
    private sealed class SilentMember : IAsyncDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);
        private readonly List<System.Net.Sockets.TcpClient> _held = [];
        private readonly Task _accepting;
        private int _accepted;

        public SilentMember()
        {
            _listener.Start();
            Url = new Uri($"http://127.0.0.1:{((System.Net.IPEndPoint)_listener.LocalEndpoint).Port}/");
            _accepting = Task.Run(async () =>
            {
                while (true)
                {
                    System.Net.Sockets.TcpClient client;
                    try
                    {
                        client = await _listener.AcceptTcpClientAsync();
                    }
                    catch (Exception exception) when (exception is System.Net.Sockets.SocketException or ObjectDisposedException)
                    {
                        return;
                    }

                    lock (_held)
                    {
                        _held.Add(client);
                    }

                    Interlocked.Increment(ref _accepted);
                }
            });
        }

        public Uri Url { get; }

        public int Accepted => Volatile.Read(ref _accepted);

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            await _accepting;
            lock (_held)
            {
                _held.ForEach(c => c.Dispose());
            }
        }
    }
}
