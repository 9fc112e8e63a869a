using Xunit;

namespace Holdfast.State.Conformance;

/// <summary>
/// The contract for stores whose data outlives the store object (SQLite, etcd): everything acknowledged is still
/// there after a reopen, and the revision never goes backwards. Subclassed instead of a <c>SupportsReopen</c> flag,
/// so a store without durability runs none of these rather than passing them vacuously.
/// </summary>
public abstract class DurableStateStoreConformanceTests : StateStoreConformanceTests
{
    /// <summary>Disposes <paramref name="store"/> and opens the same data again, with leases on <paramref name="time"/>.</summary>
    protected abstract ValueTask<IStateStore> ReopenAsync(IStateStore store, TimeProvider time);

    protected async Task ReopenStoreAsync() => Store = await ReopenAsync(Store, Time);

    [Fact]
    public async Task ReopenAsync_AfterWrites_PreservesKeysRevisionsAndVersions()
    {
        await Store.PutAsync("/a", Bytes("1"), null, Ct);
        await Store.PutAsync("/a", Bytes("2"), null, Ct);
        await Store.TxnAsync(new TxnRequest([], [TxnOp.Put("/b", Bytes("b")), TxnOp.Put("/c", Bytes("c"))]), Ct);

        await ReopenStoreAsync();

        Assert.Equal(3, await Store.GetRevisionAsync(Ct));
        var a = await Store.GetAsync("/a", Ct);
        Assert.Equal(("2", 1L, 2L, 2L), (Text(a!.Value), a.CreateRevision, a.ModRevision, a.Version));
        Assert.Equal(["/a", "/b", "/c"], (await Store.RangeAsync(new RangeRequest("/"), Ct)).Items.Select(kv => kv.Key));
        Assert.Equal(4, (await Store.PutAsync("/a", Bytes("3"), 2, Ct)).Revision);
    }

    [Fact]
    public async Task ReopenAsync_AfterDeletingAndCompactingEverything_RevisionDoesNotGoBackwards()
    {
        await Store.PutAsync("/a", Bytes("1"), null, Ct);
        await Store.PutAsync("/b", Bytes("2"), null, Ct);
        await Store.DeleteAsync("/a", null, Ct);
        await Store.DeleteAsync("/b", null, Ct);
        await Store.CompactAsync(4, Ct);

        await ReopenStoreAsync();

        Assert.Equal(4, await Store.GetRevisionAsync(Ct));
        Assert.Equal(5, (await Store.PutAsync("/c", Bytes("3"), null, Ct)).Revision);
    }

    [Fact]
    public async Task ReopenAsync_WatchFromBeforeReopen_ReplaysHistoryAndHonoursCompaction()
    {
        for (int i = 1; i <= 4; i++)
        {
            await Store.PutAsync($"/w/{i}", Bytes($"{i}"), null, Ct);
        }

        await Store.CompactAsync(2, Ct);

        await ReopenStoreAsync();

        await using (var watch = new WatchProbe(Store, "/w/", 2))
        {
            Assert.Equal(["/w/3", "/w/4"], (await watch.TakeAsync(2)).Select(e => e.Kv.Key));
        }

        await using var compacted = new WatchProbe(Store, "/w/", 1);
        Assert.IsType<RevisionCompactedException>(await compacted.EndAsync());
    }

    [Fact]
    public async Task ReopenAsync_WithLease_LeaseSurvivesAndStillExpires()
    {
        var lease = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        await Store.PutAsync("/l/a", Bytes("v"), null, Ct, lease.Id);
        await LetTimePassAsync(TimeSpan.FromSeconds(4));

        await ReopenStoreAsync();

        Assert.Equal(lease.Id, (await Store.GetAsync("/l/a", Ct))!.Lease);
        var other = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.NotEqual(lease.Id, other.Id);
        await using var watch = new WatchProbe(Store, "/l/", await Store.GetRevisionAsync(Ct));

        // Expiry continues from the persisted deadline (10 s after the grant), not from the reopen.
        await LetTimePassAsync(TimeSpan.FromSeconds(7));

        var change = await watch.NextAsync();
        Assert.Equal((WatchEventType.Delete, "/l/a"), (change.Type, change.Kv.Key));
        Assert.True(await Store.KeepAliveAsync(other.Id, Ct));
    }
}
