using System.Text;
using Holdfast.State.Snapshots;
using Holdfast.Testing;
using Xunit;

namespace Holdfast.State.Etcd.Tests;

/// <summary>A snapshot of a real etcd taken while writers keep changing it: one revision, not a mix of pages.</summary>
public sealed class EtcdSnapshotTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task WriteAsync_WhileKeysChange_SnapshotIsTheStoreAtItsRevision()
    {
        await using var etcd = await EtcdProcess.StartSingleAsync(_directory.Path);
        await using var store = await EtcdStateStore.OpenAsync(new EtcdStateStoreOptions { Endpoints = [etcd.ClientUrl] }, CancellationToken.None);
        const int Keys = 1200;
        for (int i = 0; i < Keys; i += 100)
        {
            await store.TxnAsync(new TxnRequest([], Enumerable.Range(i, 100).Select(k => TxnOp.Put($"/k/{k:D5}", Encoding.UTF8.GetBytes("0"))).ToList()), CancellationToken.None);
        }

        // Writers rewrite keys all over the range (first and last pages alike) for as long as the backup runs.
        using var stop = new CancellationTokenSource();
        int writes = 0;
        var writers = Enumerable.Range(0, 2).Select(w => Task.Run(async () =>
        {
            for (int n = 1; !stop.IsCancellationRequested; n++)
            {
                int key = (n * 7919 + w * 613) % Keys;
                await store.PutAsync($"/k/{key:D5}", Encoding.UTF8.GetBytes(n.ToString(System.Globalization.CultureInfo.InvariantCulture)), null, CancellationToken.None);
                Interlocked.Increment(ref writes);
            }
        })).ToList();

        using var file = new MemoryStream();
        SnapshotSummary summary;
        try
        {
            while (Volatile.Read(ref writes) < 20)
            {
                await Task.Delay(10);
            }

            summary = await StoreSnapshot.WriteAsync(store, "etcd", [], file, DateTimeOffset.UnixEpoch, CancellationToken.None);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }

        Assert.True(await store.GetRevisionAsync(CancellationToken.None) > summary.Header.Revision, "No write landed after the snapshot's revision: the test proved nothing.");
        await using var restored = new InMemoryStateStore(TimeProvider.System);
        file.Position = 0;
        await SnapshotRestore.RestoreAsync(file, restored, null, new SnapshotRestoreOptions(), CancellationToken.None);
        var expected = (await store.RangeAsync(new RangeRequest("", Revision: summary.Header.Revision), CancellationToken.None)).Items;
        var actual = (await restored.RangeAsync(new RangeRequest(""), CancellationToken.None)).Items;
        Assert.Equal(Keys, actual.Count);
        Assert.Equal(expected.Select(kv => (kv.Key, Encoding.UTF8.GetString(kv.Value.Span))), actual.Select(kv => (kv.Key, Encoding.UTF8.GetString(kv.Value.Span))));
    }
}
