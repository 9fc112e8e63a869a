using System.Text;
using Holdfast.State.Etcd.Gateway;
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
}
