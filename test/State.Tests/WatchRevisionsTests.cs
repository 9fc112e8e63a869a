using System.Text;
using Xunit;

namespace Holdfast.State.Tests;

/// <summary>Grouping a watch by revision: a transaction's events come out together, so a view never advances mid-transaction.</summary>
public sealed class WatchRevisionsTests
{
    [Fact]
    public async Task ByRevisionAsync_TransactionThenSingleWrite_GivesOneGroupPerRevision()
    {
        await using var store = new InMemoryStateStore(TimeProvider.System);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var start = await store.GetRevisionAsync(timeout.Token);
        var value = Encoding.UTF8.GetBytes("v");
        var txn = await store.TxnAsync(new TxnRequest([], [TxnOp.Put("/w/a", value), TxnOp.Put("/w/b", value), TxnOp.Put("/w/c", value)]), timeout.Token);
        var single = await store.PutAsync("/w/d", value, null, timeout.Token);

        var groups = new List<IReadOnlyList<WatchEvent>>();
        await foreach (var group in store.WatchAsync("/w/", start, timeout.Token).ByRevisionAsync(timeout.Token))
        {
            groups.Add(group);
            if (groups.Sum(g => g.Count) == 4)
            {
                break;
            }
        }

        Assert.Equal(2, groups.Count);
        Assert.Equal(["/w/a", "/w/b", "/w/c"], groups[0].Select(e => e.Kv.Key));
        Assert.All(groups[0], e => Assert.Equal(txn.Revision, e.Revision));
        Assert.Equal(single.Revision, Assert.Single(groups[1]).Revision);
    }
}
