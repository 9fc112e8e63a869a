using System.Text;
using Holdfast.State.Etcd.Client;
using Xunit;

namespace Holdfast.State.Etcd.Tests;

/// <summary>
/// Group commit when etcd holds a request: the store over a stand-in for etcd's client boundary (<see cref="IEtcdClient"/>)
/// whose first transaction never answers until released — what a follower does with a proposal lost with a killed
/// leader, until the request times out. Timing against real etcd is in the failover benchmark.
/// </summary>
public sealed class EtcdTxnBatcherTests
{
    [Fact]
    public async Task TxnAsync_GroupHeldByEtcd_DoesNotHoldBackTheWritesQueuedBehindIt()
    {
        using var etcd = new HoldingFirstTxn();
        var options = new EtcdStateStoreOptions { Endpoints = [new Uri("http://127.0.0.1:1/")], MaxTxnsInFlight = 1, StallAfter = TimeSpan.FromMilliseconds(50) };
        await using var store = new EtcdStateStore(etcd, options);

        var held = store.TxnAsync(Write("/a"), CancellationToken.None).AsTask();
        await etcd.FirstArrived.WaitAsync(TimeSpan.FromSeconds(10));
        var queued = store.TxnAsync(Write("/b"), CancellationToken.None).AsTask();

        var second = await queued.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(second.Succeeded);
        Assert.False(held.IsCompleted);

        etcd.Release();
        Assert.True((await held.WaitAsync(TimeSpan.FromSeconds(10))).Succeeded);
        Assert.Equal(2, etcd.Transactions);
    }

    [Fact]
    public async Task TxnAsync_NoStall_SecondWriteWaitsForTheGroupInFlight()
    {
        using var etcd = new HoldingFirstTxn();
        var options = new EtcdStateStoreOptions { Endpoints = [new Uri("http://127.0.0.1:1/")], MaxTxnsInFlight = 1, StallAfter = TimeSpan.FromMinutes(5) };
        await using var store = new EtcdStateStore(etcd, options);

        var held = store.TxnAsync(Write("/a"), CancellationToken.None).AsTask();
        await etcd.FirstArrived.WaitAsync(TimeSpan.FromSeconds(10));
        var queued = store.TxnAsync(Write("/b"), CancellationToken.None).AsTask();
        await Task.Delay(200);

        // One group in flight, not yet stalled: the second write queues (and goes when the first is answered).
        Assert.False(queued.IsCompleted);
        Assert.Equal(1, etcd.Transactions);
        etcd.Release();
        Assert.True((await held.WaitAsync(TimeSpan.FromSeconds(10))).Succeeded);
        Assert.True((await queued.WaitAsync(TimeSpan.FromSeconds(10))).Succeeded);
    }

    private static TxnRequest Write(string key) =>
        new([Compare.Absent(key)], [TxnOp.Put(key, Encoding.UTF8.GetBytes("v"))]) { MayShareRevision = true, WithoutPreviousValues = true };

    /// <summary>Answers every transaction as committed, except that the first waits until <see cref="Release"/>.</summary>
    private sealed class HoldingFirstTxn : IEtcdClient
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _firstArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _transactions;

        public Task FirstArrived => _firstArrived.Task;

        public int Transactions => Volatile.Read(ref _transactions);

        public void Release() => _release.TrySetResult();

        public async Task<EtcdTxnResponse> TxnAsync(EtcdTxnRequest request, bool writes, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _transactions) == 1)
            {
                _firstArrived.TrySetResult();
                await _release.Task.WaitAsync(cancellationToken);
            }

            return new EtcdTxnResponse
            {
                Header = new EtcdHeader { Revision = 1 + Transactions },
                Succeeded = true,
                Responses = [.. (request.Success ?? []).Select(_ => new EtcdResponseOp { ResponsePut = new EtcdPutResponse() })],
            };
        }

        public Task<EtcdRangeResponse> RangeAsync(EtcdRangeRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task CompactAsync(EtcdCompactionRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<EtcdLeaseResponse> LeaseGrantAsync(EtcdLeaseGrantRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<long> LeaseKeepAliveAsync(long leaseId, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task LeaseRevokeAsync(long leaseId, CancellationToken cancellationToken) => throw new NotSupportedException();

        public IAsyncEnumerable<EtcdWatchResponse> WatchAsync(EtcdWatchCreateRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose() => _release.TrySetResult();
    }
}
