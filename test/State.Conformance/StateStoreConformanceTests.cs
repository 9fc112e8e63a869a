using System.Diagnostics.CodeAnalysis;
using System.Text;
using Holdfast.Testing;
using Xunit;

namespace Holdfast.State.Conformance;

/// <summary>
/// The <see cref="IStateStore"/> contract, run against every backend by subclassing (as Orleans' storage conformance
/// kit). Each test gets a fresh store on a <see cref="ManualTimeProvider"/>; leases expire only when a test lets time
/// pass (<see cref="LetTimePassAsync"/>). Tests wait on explicit signals (watch events, awaited writes) with <see cref="WaitTimeout"/>, never on the clock.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "Disposed in IAsyncLifetime.DisposeAsync, which xunit calls after every test.")]
public abstract class StateStoreConformanceTests : IAsyncLifetime
{
    internal static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _testTimeout = new(TimeSpan.FromSeconds(60));

    protected ManualTimeProvider Time { get; } = new();

    protected IStateStore Store { get; set; } = null!;

    protected CancellationToken Ct => _testTimeout.Token;

    public virtual async Task InitializeAsync() => Store = await CreateStoreAsync(Time);

    public virtual async Task DisposeAsync()
    {
        await Store.DisposeAsync();
        _testTimeout.Dispose();
    }

    /// <summary>A new, empty store whose leases follow <paramref name="time"/>.</summary>
    protected abstract ValueTask<IStateStore> CreateStoreAsync(TimeProvider time);

    /// <summary>
    /// Lets <paramref name="by"/> pass on the clock the store's leases run on: the manual clock by default. A backend
    /// whose leases run on a server's real clock (etcd) overrides this with a real delay.
    /// </summary>
    protected virtual Task LetTimePassAsync(TimeSpan by)
    {
        Time.Advance(by);
        return Task.CompletedTask;
    }

    protected static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    protected static string Text(ReadOnlyMemory<byte> value) => Encoding.UTF8.GetString(value.Span);

    [Fact]
    public async Task GetRevisionAsync_EmptyStore_ReturnsZero()
    {
        Assert.Equal(0, await Store.GetRevisionAsync(Ct));
    }

    [Fact]
    public async Task PutAsync_NewKey_AdvancesRevisionAndSetsCreateRevision()
    {
        var result = await Store.PutAsync("/a", Bytes("one"), null, Ct);

        Assert.True(result.Succeeded);
        Assert.Equal(1, result.Revision);
        var kv = Assert.IsType<KeyValue>(result.Current);
        Assert.Equal(("/a", "one", 1L, 1L, 1L, 0L), (kv.Key, Text(kv.Value), kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease));
        Assert.Equal(1, await Store.GetRevisionAsync(Ct));
    }

    [Fact]
    public async Task PutAsync_ExistingKey_KeepsCreateRevisionAndIncrementsVersion()
    {
        await Store.PutAsync("/a", Bytes("one"), null, Ct);
        await Store.PutAsync("/other", Bytes("x"), null, Ct);

        var result = await Store.PutAsync("/a", Bytes("two"), null, Ct);

        Assert.Equal(3, result.Revision);
        var kv = await Store.GetAsync("/a", Ct);
        Assert.NotNull(kv);
        Assert.Equal(("two", 1L, 3L, 2L), (Text(kv.Value), kv.CreateRevision, kv.ModRevision, kv.Version));
    }

    [Fact]
    public async Task PutAsync_MatchingModRevision_Succeeds()
    {
        var first = await Store.PutAsync("/a", Bytes("one"), null, Ct);

        var result = await Store.PutAsync("/a", Bytes("two"), first.Revision, Ct);

        Assert.True(result.Succeeded);
        Assert.Equal("two", Text(result.Current!.Value));
    }

    [Fact]
    public async Task PutAsync_StaleModRevision_ReturnsNotSucceededWithCurrent()
    {
        var first = await Store.PutAsync("/a", Bytes("one"), null, Ct);
        await Store.PutAsync("/a", Bytes("two"), null, Ct);

        var result = await Store.PutAsync("/a", Bytes("three"), first.Revision, Ct);

        Assert.False(result.Succeeded);
        Assert.Equal(2, result.Revision);
        Assert.NotNull(result.Current);
        Assert.Equal(("two", 2L), (Text(result.Current.Value), result.Current.ModRevision));
        Assert.Equal(2, await Store.GetRevisionAsync(Ct));
        Assert.Equal("two", Text((await Store.GetAsync("/a", Ct))!.Value));
    }

    [Fact]
    public async Task PutAsync_ExpectedZeroOnExistingKey_Fails()
    {
        await Store.PutAsync("/a", Bytes("one"), null, Ct);

        var result = await Store.PutAsync("/a", Bytes("two"), 0, Ct);

        Assert.False(result.Succeeded);
        Assert.Equal("one", Text(result.Current!.Value));
        Assert.Equal(1, await Store.GetRevisionAsync(Ct));
    }

    [Fact]
    public async Task PutAsync_ExpectedZeroOnMissingKey_Creates()
    {
        var result = await Store.PutAsync("/a", Bytes("one"), 0, Ct);

        Assert.True(result.Succeeded);
        Assert.Equal(1, result.Current!.CreateRevision);
    }

    [Fact]
    public async Task PutAsync_ExpectedRevisionOnMissingKey_FailsWithNoCurrent()
    {
        await Store.PutAsync("/other", Bytes("x"), null, Ct);

        var result = await Store.PutAsync("/a", Bytes("one"), 1, Ct);

        Assert.False(result.Succeeded);
        Assert.Null(result.Current);
        Assert.Equal(1, result.Revision);
        Assert.Null(await Store.GetAsync("/a", Ct));
    }

    [Fact]
    public async Task PutAsync_BinaryAndEmptyValues_RoundTripExactly()
    {
        byte[] binary = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        await Store.PutAsync("/binary", binary, null, Ct);
        await Store.PutAsync("/empty", ReadOnlyMemory<byte>.Empty, null, Ct);

        Assert.Equal(binary, (await Store.GetAsync("/binary", Ct))!.Value.ToArray());
        Assert.Equal(0, (await Store.GetAsync("/empty", Ct))!.Value.Length);
    }

    [Fact]
    public async Task PutAsync_CallerReusesBuffer_StoredValueUnchanged()
    {
        byte[] buffer = Bytes("original");
        var pending = Store.PutAsync("/a", buffer, null, Ct);
        buffer.AsSpan().Fill((byte)'x');
        await pending;

        Assert.Equal("original", Text((await Store.GetAsync("/a", Ct))!.Value));
    }

    [Fact]
    public async Task GetAsync_MissingKey_ReturnsNull()
    {
        Assert.Null(await Store.GetAsync("/missing", Ct));
    }

    [Fact]
    public async Task GetSerializableAsync_AfterOwnWrites_SeesThemWithRevisions()
    {
        Assert.Null(await Store.GetSerializableAsync("/a", Ct));
        await Store.PutAsync("/a", Bytes("one"), null, Ct);
        var second = await Store.PutAsync("/a", Bytes("two"), null, Ct);

        var read = await Store.GetSerializableAsync("/a", Ct);

        Assert.NotNull(read);
        Assert.Equal("two", Text(read.Value));
        Assert.Equal(second.Revision, read.ModRevision);
        Assert.Equal(1, read.CreateRevision);
        Assert.Equal(2, read.Version);
        await Store.DeleteAsync("/a", null, Ct);
        Assert.Null(await Store.GetSerializableAsync("/a", Ct));
    }

    [Fact]
    public async Task DeleteAsync_ExistingKey_RemovesKeyAndAdvancesRevision()
    {
        await Store.PutAsync("/a", Bytes("one"), null, Ct);

        var result = await Store.DeleteAsync("/a", null, Ct);

        Assert.True(result.Succeeded);
        Assert.Equal(2, result.Revision);
        Assert.Null(result.Current);
        Assert.Null(await Store.GetAsync("/a", Ct));
        Assert.Equal(2, await Store.GetRevisionAsync(Ct));
    }

    [Fact]
    public async Task DeleteAsync_MissingKey_NotSucceeded()
    {
        await Store.PutAsync("/other", Bytes("x"), null, Ct);

        var result = await Store.DeleteAsync("/a", null, Ct);

        Assert.False(result.Succeeded);
        Assert.Null(result.Current);
        Assert.Equal(1, await Store.GetRevisionAsync(Ct));
    }

    [Fact]
    public async Task DeleteAsync_StaleModRevision_NotSucceededWithCurrent()
    {
        var first = await Store.PutAsync("/a", Bytes("one"), null, Ct);
        await Store.PutAsync("/a", Bytes("two"), null, Ct);

        var result = await Store.DeleteAsync("/a", first.Revision, Ct);

        Assert.False(result.Succeeded);
        Assert.Equal("two", Text(result.Current!.Value));
        Assert.NotNull(await Store.GetAsync("/a", Ct));
    }

    [Fact]
    public async Task DeleteAsync_MatchingModRevision_Deletes()
    {
        var first = await Store.PutAsync("/a", Bytes("one"), null, Ct);

        var result = await Store.DeleteAsync("/a", first.Revision, Ct);

        Assert.True(result.Succeeded);
        Assert.Null(await Store.GetAsync("/a", Ct));
    }

    [Fact]
    public async Task PutAsync_AfterDelete_RestartsCreateRevisionAndVersion()
    {
        await Store.PutAsync("/a", Bytes("one"), null, Ct);
        await Store.PutAsync("/a", Bytes("two"), null, Ct);
        await Store.DeleteAsync("/a", null, Ct);

        var result = await Store.PutAsync("/a", Bytes("three"), 0, Ct);

        Assert.True(result.Succeeded);
        Assert.Equal((4L, 4L, 1L), (result.Current!.CreateRevision, result.Current.ModRevision, result.Current.Version));
    }

    [Fact]
    public async Task RangeAsync_Prefix_ReturnsKeysInOrdinalOrderAtCurrentRevision()
    {
        foreach (string key in new[] { "/r/b", "/r/B", "/r/a/1", "/r/a", "/s/a", "/q" })
        {
            await Store.PutAsync(key, Bytes(key), null, Ct);
        }

        var result = await Store.RangeAsync(new RangeRequest("/r/"), Ct);

        Assert.Equal(["/r/B", "/r/a", "/r/a/1", "/r/b"], result.Items.Select(kv => kv.Key));
        Assert.All(result.Items, kv => Assert.Equal(kv.Key, Text(kv.Value)));
        Assert.Equal(6, result.Revision);
        Assert.False(result.More);
        Assert.Null(result.ContinueAfter);
    }

    [Fact]
    public async Task RangeAsync_PrefixWithLimit_PagesWithoutGapsOrDuplicates()
    {
        var keys = Enumerable.Range(0, 23).Select(i => $"/page/{i:D2}").ToList();
        foreach (string key in keys.OrderBy(k => k.GetHashCode(StringComparison.Ordinal)))
        {
            await Store.PutAsync(key, Bytes(key), null, Ct);
        }

        await Store.PutAsync("/pagez", Bytes("outside"), null, Ct);
        var seen = new List<string>();
        string? after = null;
        int pages = 0;
        do
        {
            var page = await Store.RangeAsync(new RangeRequest("/page/", Limit: 5, StartAfter: after), Ct);
            Assert.InRange(page.Items.Count, 1, 5);
            Assert.Equal(page.More, page.ContinueAfter is not null);
            if (page.More)
            {
                Assert.Equal(page.Items[^1].Key, page.ContinueAfter);
            }

            seen.AddRange(page.Items.Select(kv => kv.Key));
            after = page.ContinueAfter;
            pages++;
        }
        while (after is not null);

        Assert.Equal(keys, seen);
        Assert.Equal(5, pages);
    }

    [Fact]
    public async Task RangeAsync_LimitEqualsRemainingKeys_HasNoContinuation()
    {
        foreach (string key in new[] { "/l/a", "/l/b", "/l/c" })
        {
            await Store.PutAsync(key, Bytes("v"), null, Ct);
        }

        var result = await Store.RangeAsync(new RangeRequest("/l/", Limit: 3), Ct);

        Assert.Equal(3, result.Items.Count);
        Assert.False(result.More);
    }

    [Fact]
    public async Task RangeAsync_PrefixDoesNotMatchSiblingWithLongerName()
    {
        foreach (string key in new[] { "/a/b", "/a/b/c", "/a/b/d/e", "/a/bc", "/a/bc/d", "/a/b0", "/a/c" })
        {
            await Store.PutAsync(key, Bytes("v"), null, Ct);
        }

        var result = await Store.RangeAsync(new RangeRequest("/a/b/"), Ct);

        Assert.Equal(["/a/b/c", "/a/b/d/e"], result.Items.Select(kv => kv.Key));
    }

    [Fact]
    public async Task RangeAsync_EmptyPrefix_ReturnsEveryKey()
    {
        foreach (string key in new[] { "b", "/a", "a" })
        {
            await Store.PutAsync(key, Bytes("v"), null, Ct);
        }

        var result = await Store.RangeAsync(new RangeRequest(""), Ct);

        Assert.Equal(["/a", "a", "b"], result.Items.Select(kv => kv.Key));
    }

    [Fact]
    public async Task RangeAsync_NonAsciiKeys_OrderedByteWiseAndBoundedByPrefix()
    {
        // Byte-wise (UTF-8) order is code point order: U+1F600 sorts after U+FFFD, unlike UTF-16 ordinal order.
        string[] inside = ["/ü/z", "/ü/é", "/ü/\uFFFD", "/ü/\U0001F600", "/ü/\U0010FFFF"];
        foreach (string key in inside.Reverse().Concat(["/ü", "/üa", "/ü0", "/u/x", "/ý/"]))
        {
            await Store.PutAsync(key, Bytes("v"), null, Ct);
        }

        var all = await Store.RangeAsync(new RangeRequest("/ü/"), Ct);
        var first = await Store.RangeAsync(new RangeRequest("/ü/", Limit: 3), Ct);
        var rest = await Store.RangeAsync(new RangeRequest("/ü/", StartAfter: first.ContinueAfter), Ct);

        Assert.Equal(inside, all.Items.Select(kv => kv.Key));
        Assert.Equal(inside, first.Items.Concat(rest.Items).Select(kv => kv.Key));
    }

    [Fact]
    public async Task RangeAsync_StartAfterBeyondPrefix_ReturnsNothing()
    {
        await Store.PutAsync("/p/a", Bytes("v"), null, Ct);
        await Store.PutAsync("/q/a", Bytes("v"), null, Ct);

        var result = await Store.RangeAsync(new RangeRequest("/p/", StartAfter: "/p0"), Ct);

        Assert.Empty(result.Items);
        Assert.False(result.More);
    }

    /// <summary>
    /// True when the store can read keys as they were at an older, uncompacted revision (etcd); false when it keeps
    /// only the newest values (SQLite, in-memory), where any older revision reads as compacted.
    /// </summary>
    protected virtual bool ReadsOlderRevisions => false;

    [Fact]
    public async Task RangeAsync_AtRevisionAcrossPages_EveryPageReadsThatRevision()
    {
        foreach (string key in new[] { "/rev/a", "/rev/b", "/rev/c", "/rev/d", "/rev/e" })
        {
            await Store.PutAsync(key, Bytes(key), null, Ct);
        }

        long revision = await Store.GetRevisionAsync(Ct);
        var seen = new List<string>();
        string? after = null;
        do
        {
            var page = await Store.RangeAsync(new RangeRequest("/rev/", Limit: 2, StartAfter: after, Revision: revision), Ct);
            Assert.Equal(revision, page.Revision);
            seen.AddRange(page.Items.Select(kv => kv.Key));
            after = page.ContinueAfter;
        }
        while (after is not null);

        Assert.Equal(["/rev/a", "/rev/b", "/rev/c", "/rev/d", "/rev/e"], seen);
    }

    [Fact]
    public async Task RangeAsync_AtOlderRevision_ReadsThatSnapshotOrRefusesAsCompacted()
    {
        var first = await Store.PutAsync("/old/a", Bytes("one"), null, Ct);
        await Store.PutAsync("/old/a", Bytes("two"), null, Ct);
        await Store.PutAsync("/old/b", Bytes("new"), null, Ct);

        var read = () => Store.RangeAsync(new RangeRequest("/old/", Revision: first.Revision), Ct).AsTask();

        if (ReadsOlderRevisions)
        {
            var page = await read();
            var only = Assert.Single(page.Items);
            Assert.Equal(("/old/a", "one", first.Revision), (only.Key, Text(only.Value), only.ModRevision));
            Assert.Equal(first.Revision, page.Revision);
        }
        else
        {
            await Assert.ThrowsAsync<RevisionCompactedException>(read);
        }
    }

    [Fact]
    public async Task RangeAsync_AtCompactedRevision_ThrowsRevisionCompacted()
    {
        var first = await Store.PutAsync("/cmp/a", Bytes("one"), null, Ct);
        await Store.PutAsync("/cmp/a", Bytes("two"), null, Ct);
        await Store.PutAsync("/cmp/b", Bytes("three"), null, Ct);
        await Store.CompactAsync(first.Revision + 1, Ct);

        await Assert.ThrowsAsync<RevisionCompactedException>(() => Store.RangeAsync(new RangeRequest("/cmp/", Revision: first.Revision), Ct).AsTask());
    }

    [Fact]
    public async Task RangeAsync_AtFutureRevision_ThrowsArgumentOutOfRange()
    {
        var written = await Store.PutAsync("/fut/a", Bytes("one"), null, Ct);

        await Assert.ThrowsAnyAsync<ArgumentOutOfRangeException>(() => Store.RangeAsync(new RangeRequest("/fut/", Revision: written.Revision + 5), Ct).AsTask());
    }

    [Fact]
    public async Task TxnAsync_AllComparesHold_AppliesSuccessAtomicallyWithOneRevision()
    {
        var a = await Store.PutAsync("/t/a", Bytes("a1"), null, Ct);

        var result = await Store.TxnAsync(
            new TxnRequest(
                [Compare.ModRevisionIs("/t/a", a.Revision), Compare.Absent("/t/b")],
                [TxnOp.Put("/t/a", Bytes("a2")), TxnOp.Put("/t/b", Bytes("b1")), TxnOp.Delete("/t/missing")]),
            Ct);

        Assert.True(result.Succeeded);
        Assert.Equal(2, result.Revision);
        Assert.Equal(3, result.Results.Count);
        Assert.Equal(2, await Store.GetRevisionAsync(Ct));
        var kvs = (await Store.RangeAsync(new RangeRequest("/t/"), Ct)).Items;
        Assert.Equal([("/t/a", "a2", 2L), ("/t/b", "b1", 2L)], kvs.Select(kv => (kv.Key, Text(kv.Value), kv.ModRevision)));
    }

    [Fact]
    public async Task TxnAsync_CompareFails_RunsFailureOps()
    {
        await Store.PutAsync("/t/a", Bytes("a1"), null, Ct);

        var result = await Store.TxnAsync(
            new TxnRequest(
                [Compare.Absent("/t/a")],
                [TxnOp.Put("/t/a", Bytes("overwritten")), TxnOp.Put("/t/b", Bytes("b"))],
                [TxnOp.Get("/t/a"), TxnOp.Put("/t/c", Bytes("c"))]),
            Ct);

        Assert.False(result.Succeeded);
        Assert.Equal(2, result.Revision);
        Assert.Equal("a1", Text(Assert.Single(result.Results[0].Kvs).Value));
        Assert.Equal("a1", Text((await Store.GetAsync("/t/a", Ct))!.Value));
        Assert.Null(await Store.GetAsync("/t/b", Ct));
        Assert.Equal(2, (await Store.GetAsync("/t/c", Ct))!.ModRevision);
    }

    [Fact]
    public async Task TxnAsync_ReadOnly_DoesNotAdvanceRevision()
    {
        await Store.PutAsync("/t/a", Bytes("a"), null, Ct);
        await Store.PutAsync("/t/b", Bytes("b"), null, Ct);

        var result = await Store.TxnAsync(
            new TxnRequest([Compare.Exists("/t/a")], [TxnOp.Get("/t/a"), TxnOp.Range("/t/"), TxnOp.Get("/t/missing")]), Ct);

        Assert.True(result.Succeeded);
        Assert.Equal(2, result.Revision);
        Assert.Equal("a", Text(Assert.Single(result.Results[0].Kvs).Value));
        Assert.Equal(["/t/a", "/t/b"], result.Results[1].Kvs.Select(kv => kv.Key));
        Assert.Empty(result.Results[2].Kvs);
        Assert.Equal(2, await Store.GetRevisionAsync(Ct));
    }

    [Fact]
    public async Task TxnAsync_WritesNothing_DoesNotAdvanceRevision()
    {
        await Store.PutAsync("/t/a", Bytes("a"), null, Ct);

        var result = await Store.TxnAsync(new TxnRequest([], [TxnOp.Delete("/t/missing"), TxnOp.DeletePrefix("/none/")]), Ct);

        Assert.True(result.Succeeded);
        Assert.Equal(1, result.Revision);
        Assert.All(result.Results, r => Assert.Equal(0, r.Deleted));
        Assert.Equal(1, await Store.GetRevisionAsync(Ct));
    }

    [Fact]
    public async Task TxnAsync_AbsentKey_NumericTargetsCompareAsZero()
    {
        var result = await Store.TxnAsync(
            new TxnRequest(
                [
                    new Compare("/missing", CompareTarget.ModRevision, CompareOperator.Equal, 0),
                    new Compare("/missing", CompareTarget.CreateRevision, CompareOperator.Equal, 0),
                    new Compare("/missing", CompareTarget.Version, CompareOperator.Less, 1),
                ],
                [TxnOp.Put("/created", Bytes("v"))]),
            Ct);

        Assert.True(result.Succeeded);
        Assert.NotNull(await Store.GetAsync("/created", Ct));
    }

    [Theory]
    [InlineData(CompareOperator.Equal)]
    [InlineData(CompareOperator.NotEqual)]
    [InlineData(CompareOperator.Less)]
    [InlineData(CompareOperator.Greater)]
    public async Task TxnAsync_ValueCompareOnAbsentKey_NeverHolds(CompareOperator op)
    {
        var result = await Store.TxnAsync(
            new TxnRequest([new Compare("/missing", CompareTarget.Value, op, Value: Bytes("x"))], [TxnOp.Put("/created", Bytes("v"))]), Ct);

        Assert.False(result.Succeeded);
        Assert.Null(await Store.GetAsync("/created", Ct));
    }

    [Theory]
    [InlineData(new byte[] { 1, 2 }, CompareOperator.Equal, true)]
    [InlineData(new byte[] { 1, 2 }, CompareOperator.NotEqual, false)]
    [InlineData(new byte[] { 1 }, CompareOperator.Greater, true)]
    [InlineData(new byte[] { 1, 3 }, CompareOperator.Less, true)]
    [InlineData(new byte[] { 1, 2, 0 }, CompareOperator.Less, true)]
    [InlineData(new byte[] { 0, 9 }, CompareOperator.Less, false)]
    [InlineData(new byte[] { 0xFF }, CompareOperator.Greater, false)]
    public async Task TxnAsync_ValueCompare_IsByteWise(byte[] operand, CompareOperator op, bool holds)
    {
        await Store.PutAsync("/v", new byte[] { 1, 2 }, null, Ct);

        var result = await Store.TxnAsync(new TxnRequest([new Compare("/v", CompareTarget.Value, op, Value: operand)], []), Ct);

        Assert.Equal(holds, result.Succeeded);
    }

    [Fact]
    public async Task TxnAsync_VersionAndCreateRevisionCompares_FollowKeyHistory()
    {
        await Store.PutAsync("/other", Bytes("x"), null, Ct);
        await Store.PutAsync("/k", Bytes("1"), null, Ct);
        await Store.PutAsync("/k", Bytes("2"), null, Ct);
        var last = await Store.PutAsync("/k", Bytes("3"), null, Ct);

        async Task<bool> HoldsAsync(CompareTarget target, CompareOperator op, long number) =>
            (await Store.TxnAsync(new TxnRequest([new Compare("/k", target, op, number)], []), Ct)).Succeeded;

        Assert.True(await HoldsAsync(CompareTarget.Version, CompareOperator.Equal, 3));
        Assert.True(await HoldsAsync(CompareTarget.Version, CompareOperator.Greater, 2));
        Assert.False(await HoldsAsync(CompareTarget.Version, CompareOperator.Less, 3));
        Assert.True(await HoldsAsync(CompareTarget.CreateRevision, CompareOperator.Equal, 2));
        Assert.True(await HoldsAsync(CompareTarget.CreateRevision, CompareOperator.NotEqual, last.Revision));
        Assert.True(await HoldsAsync(CompareTarget.ModRevision, CompareOperator.Equal, last.Revision));
        Assert.True(await HoldsAsync(CompareTarget.ModRevision, CompareOperator.Greater, 2));
    }

    [Fact]
    public async Task TxnAsync_DeletePrefix_DeletesEveryKeyUnderPrefixOnlyInOneRevision()
    {
        foreach (string key in new[] { "/p/a", "/p/b/c", "/pa", "/p" })
        {
            await Store.PutAsync(key, Bytes(key), null, Ct);
        }

        var result = await Store.TxnAsync(new TxnRequest([], [TxnOp.DeletePrefix("/p/")]), Ct);

        Assert.Equal(5, result.Revision);
        Assert.Equal(2, result.Results[0].Deleted);
        Assert.Equal(["/p/a", "/p/b/c"], result.Results[0].Kvs.Select(kv => kv.Key));
        Assert.Equal("/p/a", Text(result.Results[0].Kvs[0].Value));
        Assert.Equal(["/p", "/pa"], (await Store.RangeAsync(new RangeRequest(""), Ct)).Items.Select(kv => kv.Key));
    }

    [Fact]
    public async Task TxnAsync_PutAndDelete_ReturnPreviousValues()
    {
        await Store.PutAsync("/t/a", Bytes("old"), null, Ct);
        await Store.PutAsync("/t/b", Bytes("gone"), null, Ct);

        var result = await Store.TxnAsync(new TxnRequest([], [TxnOp.Put("/t/a", Bytes("new")), TxnOp.Put("/t/n", Bytes("n")), TxnOp.Delete("/t/b")]), Ct);

        Assert.Equal("old", Text(Assert.Single(result.Results[0].Kvs).Value));
        Assert.Empty(result.Results[1].Kvs);
        Assert.Equal(1, result.Results[2].Deleted);
        Assert.Equal("gone", Text(Assert.Single(result.Results[2].Kvs).Value));
    }

    [Fact]
    public async Task TxnAsync_ReadsAfterWrites_SeeTheTransactionsOwnWrites()
    {
        var result = await Store.TxnAsync(
            new TxnRequest([], [TxnOp.Put("/t/a", Bytes("a")), TxnOp.Get("/t/a"), TxnOp.Put("/t/b", Bytes("b")), TxnOp.Range("/t/")]), Ct);

        var got = Assert.Single(result.Results[1].Kvs);
        Assert.Equal(("a", 1L), (Text(got.Value), got.ModRevision));
        Assert.Equal(["/t/a", "/t/b"], result.Results[3].Kvs.Select(kv => kv.Key));
    }

    [Fact]
    public async Task TxnAsync_PutWithUnknownLease_ThrowsAndWritesNothing()
    {
        await Store.PutAsync("/t/seed", Bytes("s"), null, Ct);

        var error = await Assert.ThrowsAnyAsync<StateStoreException>(
            async () => await Store.TxnAsync(new TxnRequest([], [TxnOp.Put("/t/a", Bytes("a")), TxnOp.Put("/t/b", Bytes("b"), lease: 987654)]), Ct));

        Assert.False(error.IsTransient);
        Assert.Null(await Store.GetAsync("/t/a", Ct));
        Assert.Equal(1, await Store.GetRevisionAsync(Ct));
    }

    [Fact]
    public async Task WatchAsync_FromPastRevision_ReplaysThenStreamsLive()
    {
        var first = await Store.PutAsync("/w/a", Bytes("1"), null, Ct);
        await Store.PutAsync("/w/b", Bytes("2"), null, Ct);
        await Store.DeleteAsync("/w/a", null, Ct);

        await using var watch = new WatchProbe(Store, "/w/", first.Revision);
        var replayed = await watch.TakeAsync(2);
        var live = await Store.PutAsync("/w/c", Bytes("3"), null, Ct);
        var streamed = await watch.NextAsync();

        Assert.Equal([(WatchEventType.Put, "/w/b", 2L), (WatchEventType.Delete, "/w/a", 3L)], replayed.Select(e => (e.Type, e.Kv.Key, e.Revision)));
        Assert.Equal((WatchEventType.Put, "/w/c", live.Revision, "3"), (streamed.Type, streamed.Kv.Key, streamed.Revision, Text(streamed.Kv.Value)));
    }

    [Fact]
    public async Task WatchAsync_FromCurrentRevision_ReceivesOnlyNewChanges()
    {
        await Store.PutAsync("/w/a", Bytes("1"), null, Ct);

        await using var watch = new WatchProbe(Store, "/w/", await Store.GetRevisionAsync(Ct));
        await Store.PutAsync("/w/a", Bytes("2"), null, Ct);

        var change = await watch.NextAsync();
        Assert.Equal((2L, 2L, 1L, "2"), (change.Revision, change.Kv.Version, change.Kv.CreateRevision, Text(change.Kv.Value)));
    }

    [Fact]
    public async Task WatchAsync_Delete_EmitsDeleteEventAtDeletingRevision()
    {
        await Store.PutAsync("/w/a", Bytes("1"), null, Ct);
        await using var watch = new WatchProbe(Store, "/w/", 1);

        var deleted = await Store.DeleteAsync("/w/a", null, Ct);

        var change = await watch.NextAsync();
        Assert.Equal((WatchEventType.Delete, "/w/a", deleted.Revision), (change.Type, change.Kv.Key, change.Kv.ModRevision));
        Assert.Equal(0, change.Kv.Value.Length);
    }

    [Fact]
    public async Task WatchAsync_Prefix_IgnoresKeysOutsideIt()
    {
        await using var watch = new WatchProbe(Store, "/a/b/", 0);
        foreach (string key in new[] { "/a/b", "/a/bc", "/a/b/in", "/a/b0", "/z" })
        {
            await Store.PutAsync(key, Bytes("v"), null, Ct);
        }

        var marker = await Store.PutAsync("/a/b/marker", Bytes("v"), null, Ct);

        var changes = await watch.TakeThroughAsync(marker.Revision);
        Assert.Equal(["/a/b/in", "/a/b/marker"], changes.Select(e => e.Kv.Key));
    }

    [Fact]
    public async Task WatchAsync_Txn_EmitsEveryChangeWithTheSameRevision()
    {
        await Store.PutAsync("/w/old", Bytes("v"), null, Ct);
        await using var watch = new WatchProbe(Store, "/w/", 1);

        var result = await Store.TxnAsync(new TxnRequest([], [TxnOp.Put("/w/a", Bytes("a")), TxnOp.Put("/w/b", Bytes("b")), TxnOp.Delete("/w/old")]), Ct);

        var changes = await watch.TakeAsync(3);
        Assert.All(changes, e => Assert.Equal(result.Revision, e.Revision));
        Assert.Equal([(WatchEventType.Put, "/w/a"), (WatchEventType.Put, "/w/b"), (WatchEventType.Delete, "/w/old")], changes.Select(e => (e.Type, e.Kv.Key)));
    }

    [Fact]
    public async Task WatchAsync_FutureRevision_DeliversOnlyLaterChanges()
    {
        await using var watch = new WatchProbe(Store, "/w/", 2);

        await Store.PutAsync("/w/a", Bytes("1"), null, Ct);
        await Store.PutAsync("/w/b", Bytes("2"), null, Ct);
        await Store.PutAsync("/w/c", Bytes("3"), null, Ct);

        var change = await watch.NextAsync();
        Assert.Equal(("/w/c", 3L), (change.Kv.Key, change.Revision));
    }

    [Fact]
    public async Task WatchAsync_CompactedRevision_ThrowsRevisionCompacted()
    {
        for (int i = 0; i < 5; i++)
        {
            await Store.PutAsync("/w/a", Bytes($"{i}"), null, Ct);
        }

        await Store.CompactAsync(3, Ct);

        var error = await Assert.ThrowsAsync<RevisionCompactedException>(async () =>
        {
            await using var enumerator = Store.WatchAsync("/w/", 2, Ct).GetAsyncEnumerator(Ct);
            await enumerator.MoveNextAsync();
        });
        Assert.Equal(3, error.CompactedRevision);
        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task WatchAsync_AtCompactedRevision_ReplaysTheRest()
    {
        for (int i = 0; i < 5; i++)
        {
            await Store.PutAsync("/w/a", Bytes($"{i}"), null, Ct);
        }

        await Store.CompactAsync(3, Ct);
        await using var watch = new WatchProbe(Store, "/w/", 3);

        var changes = await watch.TakeAsync(2);
        Assert.Equal([4L, 5L], changes.Select(e => e.Revision));
    }

    [Fact]
    public async Task WatchAsync_ConcurrentWrites_NoGapsNoDuplicates()
    {
        const int Writers = 4;
        const int WritesEach = 60;
        var someWritten = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < WritesEach; i++)
            {
                await Store.PutAsync($"/c/{w}/{i % 7}", Bytes($"{i}"), null, Ct);
                if (i == WritesEach / 3)
                {
                    someWritten.TrySetResult();
                }
            }
        })).ToList();

        // Starting mid-stream makes the watch's history replay overlap with live writes.
        await someWritten.Task.WaitAsync(WaitTimeout);
        await using var watch = new WatchProbe(Store, "/c/", 0);
        await Task.WhenAll(writers);
        long final = await Store.GetRevisionAsync(Ct);

        var changes = await watch.TakeThroughAsync(final);
        Assert.Equal(Enumerable.Range(1, Writers * WritesEach).Select(i => (long)i), changes.Select(e => e.Revision));
    }

    [Fact]
    public async Task WatchAsync_Cancelled_EndsEnumeration()
    {
        using var cancel = new CancellationTokenSource();
        await using var enumerator = Store.WatchAsync("/w/", 0, cancel.Token).GetAsyncEnumerator(cancel.Token);
        var pending = enumerator.MoveNextAsync().AsTask();

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(WaitTimeout));
    }

    [Fact]
    public async Task CompactAsync_KeepsCurrentValuesAndRevision()
    {
        await Store.PutAsync("/a", Bytes("1"), null, Ct);
        await Store.PutAsync("/a", Bytes("2"), null, Ct);
        await Store.PutAsync("/b", Bytes("3"), null, Ct);

        await Store.CompactAsync(3, Ct);

        Assert.Equal(3, await Store.GetRevisionAsync(Ct));
        var a = await Store.GetAsync("/a", Ct);
        Assert.Equal(("2", 1L, 2L, 2L), (Text(a!.Value), a.CreateRevision, a.ModRevision, a.Version));
        Assert.Equal(4, (await Store.PutAsync("/a", Bytes("4"), a.ModRevision, Ct)).Revision);
    }

    [Fact]
    public async Task GrantLeaseAsync_TwoLeases_DistinctIdsWithRequestedTtl()
    {
        var first = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        var second = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.NotEqual(0, first.Id);
        Assert.NotEqual(first.Id, second.Id);
        Assert.Equal(TimeSpan.FromSeconds(10), first.Ttl);
        Assert.Equal(TimeSpan.FromSeconds(30), second.Ttl);
    }

    [Fact]
    public async Task PutAsync_WithLease_RecordsLeaseOnKey()
    {
        var lease = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);

        var result = await Store.PutAsync("/l/a", Bytes("v"), null, Ct, lease.Id);

        Assert.Equal(lease.Id, result.Current!.Lease);
        Assert.Equal(lease.Id, (await Store.GetAsync("/l/a", Ct))!.Lease);
    }

    [Fact]
    public async Task GrantLeaseAsync_TtlElapses_DeletesAttachedKeysWithDeleteEvents()
    {
        var lease = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        await Store.PutAsync("/l/a", Bytes("a"), null, Ct, lease.Id);
        var last = await Store.PutAsync("/l/b", Bytes("b"), null, Ct, lease.Id);
        await Store.PutAsync("/l/unleased", Bytes("c"), null, Ct);
        await using var watch = new WatchProbe(Store, "/l/", await Store.GetRevisionAsync(Ct));

        await LetTimePassAsync(TimeSpan.FromSeconds(11));

        var changes = await watch.TakeAsync(2);
        Assert.All(changes, e => Assert.Equal(WatchEventType.Delete, e.Type));
        Assert.All(changes, e => Assert.True(e.Revision > last.Revision));
        Assert.Equal(["/l/a", "/l/b"], changes.Select(e => e.Kv.Key).Order(StringComparer.Ordinal));
        Assert.Null(await Store.GetAsync("/l/a", Ct));
        Assert.NotNull(await Store.GetAsync("/l/unleased", Ct));
        Assert.False(await Store.KeepAliveAsync(lease.Id, Ct));
    }

    [Fact]
    public async Task KeepAliveAsync_BeforeExpiry_ExtendsLease()
    {
        var kept = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        var lapsed = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        await Store.PutAsync("/k/kept", Bytes("v"), null, Ct, kept.Id);
        await Store.PutAsync("/k/lapsed", Bytes("v"), null, Ct, lapsed.Id);
        await using var watch = new WatchProbe(Store, "/k/", await Store.GetRevisionAsync(Ct));

        await LetTimePassAsync(TimeSpan.FromSeconds(6));
        Assert.True(await Store.KeepAliveAsync(kept.Id, Ct));
        await LetTimePassAsync(TimeSpan.FromSeconds(6));

        // The lapsed lease's delete proves expiry ran at a time when the kept lease, renewed at 6 s, still had 4 s left.
        var change = await watch.NextAsync();
        Assert.Equal((WatchEventType.Delete, "/k/lapsed"), (change.Type, change.Kv.Key));
        Assert.NotNull(await Store.GetAsync("/k/kept", Ct));
        Assert.True(await Store.KeepAliveAsync(kept.Id, Ct));
    }

    [Fact]
    public async Task KeepAliveAsync_UnknownLease_ReturnsFalse()
    {
        Assert.False(await Store.KeepAliveAsync(424242, Ct));
    }

    [Fact]
    public async Task RevokeLeaseAsync_ExistingLease_DeletesAttachedKeys()
    {
        var lease = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        await Store.PutAsync("/r/a", Bytes("a"), null, Ct, lease.Id);
        await Store.PutAsync("/r/b", Bytes("b"), null, Ct, lease.Id);
        await using var watch = new WatchProbe(Store, "/r/", await Store.GetRevisionAsync(Ct));

        Assert.True(await Store.RevokeLeaseAsync(lease.Id, Ct));

        var changes = await watch.TakeAsync(2);
        Assert.All(changes, e => Assert.Equal(WatchEventType.Delete, e.Type));
        Assert.Empty((await Store.RangeAsync(new RangeRequest("/r/"), Ct)).Items);
        Assert.False(await Store.KeepAliveAsync(lease.Id, Ct));
        Assert.False(await Store.RevokeLeaseAsync(lease.Id, Ct));
    }

    [Fact]
    public async Task RevokeLeaseAsync_UnknownLease_ReturnsFalse()
    {
        Assert.False(await Store.RevokeLeaseAsync(424242, Ct));
    }

    [Fact]
    public async Task PutAsync_UnknownLease_ThrowsNonTransientAndWritesNothing()
    {
        var error = await Assert.ThrowsAnyAsync<StateStoreException>(async () => await Store.PutAsync("/l/a", Bytes("v"), null, Ct, 424242));

        Assert.False(error.IsTransient);
        Assert.Null(await Store.GetAsync("/l/a", Ct));
        Assert.Equal(0, await Store.GetRevisionAsync(Ct));
    }

    [Fact]
    public async Task PutAsync_RevokedLease_ThrowsNonTransient()
    {
        var lease = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        await Store.RevokeLeaseAsync(lease.Id, Ct);

        var error = await Assert.ThrowsAnyAsync<StateStoreException>(async () => await Store.PutAsync("/l/a", Bytes("v"), null, Ct, lease.Id));

        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task PutAsync_WithoutLeaseOverLeasedKey_DetachesKeyFromLease()
    {
        var lease = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        await Store.PutAsync("/l/a", Bytes("leased"), null, Ct, lease.Id);
        await Store.PutAsync("/l/a", Bytes("free"), null, Ct);
        await Store.PutAsync("/l/marker", Bytes("v"), null, Ct, lease.Id);
        await using var watch = new WatchProbe(Store, "/l/", await Store.GetRevisionAsync(Ct));

        await LetTimePassAsync(TimeSpan.FromSeconds(11));

        var change = await watch.NextAsync();
        Assert.Equal("/l/marker", change.Kv.Key);
        var kv = await Store.GetAsync("/l/a", Ct);
        Assert.Equal(("free", 0L), (Text(kv!.Value), kv.Lease));
    }

    [Fact]
    public async Task PutAsync_ConcurrentCasIncrements_NoLostUpdates()
    {
        const int Workers = 8;
        const int IncrementsEach = 50;
        await Store.PutAsync("/counter", Bytes("0"), 0, Ct);

        var workers = Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < IncrementsEach; i++)
            {
                while (true)
                {
                    var current = (await Store.GetAsync("/counter", Ct))!;
                    int next = int.Parse(Text(current.Value), System.Globalization.CultureInfo.InvariantCulture) + 1;
                    var result = await Store.PutAsync("/counter", Bytes($"{next}"), current.ModRevision, Ct);
                    if (result.Succeeded)
                    {
                        break;
                    }
                }
            }
        }));
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        var counter = await Store.GetAsync("/counter", Ct);
        Assert.Equal($"{Workers * IncrementsEach}", Text(counter!.Value));
        Assert.Equal(Workers * IncrementsEach + 1, counter.Version);
    }

    [Fact]
    public async Task PutAsync_ConcurrentWriters_EachGetsADistinctRevision()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Store.PutAsync($"/p/{i}", Bytes("v"), null, Ct).AsTask()));

        Assert.All(results, r => Assert.True(r.Succeeded));
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), results.Select(r => r.Revision).Order());
        Assert.Equal(100, await Store.GetRevisionAsync(Ct));
    }

    [Fact]
    public async Task TxnAsync_SharedRevisionDisjointWriters_EachCommitsWithItsOwnResults()
    {
        await Store.PutAsync("/s/0", Bytes("old"), null, Ct);

        var results = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => Store.TxnAsync(
            new TxnRequest([Compare.ModRevisionIs($"/s/{i}", i == 0 ? 1 : 0)], [TxnOp.Put($"/s/{i}", Bytes($"v{i}")), TxnOp.Get($"/t/{i}")]) { MayShareRevision = true },
            Ct).AsTask()));

        Assert.All(results, r => Assert.True(r.Succeeded));
        Assert.All(results, r => Assert.Equal(2, r.Results.Count));
        Assert.Equal("old", Text(results[0].Results[0].Kvs.Single().Value));
        Assert.All(results.Skip(1), r => Assert.Empty(r.Results[0].Kvs));
        for (int i = 0; i < 60; i++)
        {
            var kv = await Store.GetAsync($"/s/{i}", Ct);
            Assert.Equal($"v{i}", Text(kv!.Value));
            Assert.Equal(results[i].Revision, kv.ModRevision);
        }

        Assert.Equal(results.Max(r => r.Revision), await Store.GetRevisionAsync(Ct));
    }

    [Fact]
    public async Task TxnAsync_WithoutPreviousValues_WritesAndCountsDeletesAndStillReads()
    {
        await Store.PutAsync("/w/a", Bytes("old"), null, Ct);
        await Store.PutAsync("/w/b", Bytes("gone"), null, Ct);

        var result = await Store.TxnAsync(
            new TxnRequest([Compare.Exists("/w/a")], [TxnOp.Put("/w/a", Bytes("new")), TxnOp.Delete("/w/b"), TxnOp.Get("/w/a")]) { WithoutPreviousValues = true },
            Ct);

        Assert.True(result.Succeeded);
        Assert.Equal(1, result.Results[1].Deleted);
        Assert.Equal("new", Text(result.Results[2].Kvs.Single().Value));
        Assert.Equal("new", Text((await Store.GetAsync("/w/a", Ct))!.Value));
        Assert.Null(await Store.GetAsync("/w/b", Ct));
    }

    [Fact]
    public async Task TxnAsync_SharedRevisionOneCompareFails_OnlyThatOneFailsWithItsFailureBranch()
    {
        await Store.PutAsync("/f/stale", Bytes("current"), null, Ct);

        var results = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => Store.TxnAsync(
            i == 7
                ? new TxnRequest([Compare.ModRevisionIs("/f/stale", 999)], [TxnOp.Put("/f/stale", Bytes("lost"))], [TxnOp.Get("/f/stale")]) { MayShareRevision = true }
                : new TxnRequest([Compare.Absent($"/f/{i}")], [TxnOp.Put($"/f/{i}", Bytes("v"))]) { MayShareRevision = true },
            Ct).AsTask()));

        Assert.False(results[7].Succeeded);
        Assert.Equal("current", Text(results[7].Results.Single().Kvs.Single().Value));
        Assert.All(results.Where((_, i) => i != 7), r => Assert.True(r.Succeeded));
        Assert.Equal("current", Text((await Store.GetAsync("/f/stale", Ct))!.Value));
        Assert.Equal(29, (await Store.RangeAsync(new RangeRequest("/f/"), Ct)).Items.Count(kv => kv.Key != "/f/stale"));
    }

    [Fact]
    public async Task TxnAsync_SharedRevisionCasIncrementsOnOneKey_NoLostUpdates()
    {
        const int Workers = 8;
        const int IncrementsEach = 25;
        await Store.PutAsync("/shared", Bytes("0"), 0, Ct);

        var workers = Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < IncrementsEach; i++)
            {
                while (true)
                {
                    var current = (await Store.GetAsync("/shared", Ct))!;
                    int next = int.Parse(Text(current.Value), System.Globalization.CultureInfo.InvariantCulture) + 1;
                    var request = new TxnRequest([Compare.ModRevisionIs("/shared", current.ModRevision)], [TxnOp.Put("/shared", Bytes($"{next}"))]) { MayShareRevision = true };
                    if ((await Store.TxnAsync(request, Ct)).Succeeded)
                    {
                        break;
                    }
                }
            }
        }));
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal($"{Workers * IncrementsEach}", Text((await Store.GetAsync("/shared", Ct))!.Value));
    }

    [Fact]
    public async Task PutAsync_CancelledBeforeCall_ThrowsOperationCanceled()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await Store.PutAsync("/a", Bytes("v"), null, cancelled.Token));
        Assert.Null(await Store.GetAsync("/a", Ct));
    }

    [Fact]
    public async Task PutAsync_AfterDispose_ThrowsObjectDisposed()
    {
        await Store.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await Store.PutAsync("/a", Bytes("v"), null, Ct));
    }
}
