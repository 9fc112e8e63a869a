using System.Runtime.CompilerServices;
using Holdfast.State.Etcd.Client;

namespace Holdfast.State.Etcd;

/// <summary>
/// <see cref="IStateStore"/> on an etcd cluster (3.4+), through its native gRPC API (<see cref="EtcdGrpcClient"/>) or its
/// JSON gateway (<see cref="EtcdGatewayClient"/>), as <see cref="EtcdStateStoreOptions.Api"/> says. etcd already has the contract's
/// model (the contract copies it), so each call is one etcd request: writes are transactions that return the previous
/// value, watches are etcd watches that resume on another member from the last revision delivered, and leases are
/// etcd leases on the cluster's clock. Revisions are etcd's minus one (<see cref="EtcdRevisions"/>). A write is
/// acknowledged only after etcd has committed it to a quorum. See docs/designs/0006-etcd-store.md.
/// </summary>
public sealed class EtcdStateStore : IStateStore
{
    private readonly IEtcdClient _client;
    private readonly EtcdStateStoreOptions _options;
    private readonly CancellationTokenSource _closed = new();
    private readonly EtcdTxnBatcher _batcher;
    private int _disposed;

    internal EtcdStateStore(IEtcdClient client, EtcdStateStoreOptions options)
    {
        _client = client;
        _options = options;
        _batcher = new EtcdTxnBatcher(client, options, SendTxnAsync, response => Revision(response.Header), ToOpResult);
    }

    public IReadOnlyList<Uri> Endpoints => _options.Endpoints;

    /// <summary>Connects to the cluster and reads its revision once, so a wrong address fails here rather than later.</summary>
    public static async ValueTask<EtcdStateStore> OpenAsync(EtcdStateStoreOptions options, CancellationToken cancellationToken)
    {
        IEtcdClient client = options.Api == EtcdApi.Gateway ? new EtcdGatewayClient(options) : new EtcdGrpcClient(options);
        var store = new EtcdStateStore(client, options);
        try
        {
            await store.GetRevisionAsync(cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var response = await _client.RangeAsync(new EtcdRangeRequest { Key = [0], CountOnly = true }, cancellationToken).ConfigureAwait(false);
        return Revision(response.Header);
    }

    public ValueTask<KeyValue?> GetAsync(string key, CancellationToken cancellationToken) => GetAsync(key, serializable: false, cancellationToken);

    /// <summary>A serializable range: the member the client talks to answers from its own applied state.</summary>
    public ValueTask<KeyValue?> GetSerializableAsync(string key, CancellationToken cancellationToken) => GetAsync(key, serializable: true, cancellationToken);

    private async ValueTask<KeyValue?> GetAsync(string key, bool serializable, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ThrowIfDisposed();
        var response = await _client.RangeAsync(new EtcdRangeRequest { Key = EtcdKeys.Encode(key), Serializable = serializable }, cancellationToken).ConfigureAwait(false);
        return response.Kvs is [var kv, ..] ? ToKeyValue(kv) : null;
    }

    public async ValueTask<RangeResult> RangeAsync(RangeRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfNegative(request.Limit);
        ArgumentOutOfRangeException.ThrowIfNegative(request.Revision);
        ThrowIfDisposed();
        var (start, end) = EtcdKeys.Prefix(request.Prefix);
        if (request.StartAfter is { } startAfter && EtcdKeys.After(startAfter) is var after && after.AsSpan().SequenceCompareTo(start) > 0)
        {
            start = after;
        }

        EtcdRangeResponse response;
        try
        {
            var range = new EtcdRangeRequest { Key = start, RangeEnd = end, Limit = request.Limit, Revision = request.Revision > 0 ? EtcdRevisions.ToEtcd(request.Revision) : 0 };
            response = await _client.RangeAsync(range, cancellationToken).ConfigureAwait(false);
        }
        catch (EtcdRequestException exception) when (exception.Code == EtcdRequestException.OutOfRange && request.Revision > 0)
        {
            if (exception.Message.Contains("future revision", StringComparison.Ordinal))
            {
                throw new ArgumentOutOfRangeException(nameof(request), request.Revision, "The revision is above the store's current revision.");
            }

            throw new RevisionCompactedException($"The required revision {request.Revision} has been compacted: {exception.Message}", exception);
        }

        var items = response.Kvs?.Select(ToKeyValue).ToList() ?? [];

        // etcd's header carries the newest revision; a read at an older one reports the revision it read.
        long revision = request.Revision > 0 ? request.Revision : Revision(response.Header);
        return new RangeResult(items, revision, response.More && items.Count > 0 ? items[^1].Key : null);
    }

    public async ValueTask<WriteResult> PutAsync(string key, ReadOnlyMemory<byte> value, long? expectedModRevision, CancellationToken cancellationToken, long lease = 0)
    {
        ArgumentNullException.ThrowIfNull(key);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();

        // Copied before the first await: the caller may reuse its buffer once this returns.
        byte[] stored = value.ToArray();
        byte[] encodedKey = EtcdKeys.Encode(key);
        var put = new EtcdRequestOp { RequestPut = new EtcdPutRequest { Key = encodedKey, Value = stored, Lease = lease, PrevKv = true } };
        var response = await WriteOneAsync(encodedKey, put, expectedModRevision, cancellationToken).ConfigureAwait(false);
        long revision = Revision(response.Header);
        if (!response.Succeeded)
        {
            return new WriteResult(false, revision, CurrentFrom(response));
        }

        // etcd returns the previous value, from which the new one's create revision and version follow exactly.
        var previous = FirstResponse(response)?.ResponsePut?.PrevKv;
        var written = previous is null
            ? new KeyValue(key, stored, revision, revision, 1, lease)
            : new KeyValue(key, stored, EtcdRevisions.FromEtcd(previous.CreateRevision), revision, previous.Version + 1, lease);
        return new WriteResult(true, revision, written);
    }

    public async ValueTask<WriteResult> DeleteAsync(string key, long? expectedModRevision, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        byte[] encodedKey = EtcdKeys.Encode(key);
        var delete = new EtcdRequestOp { RequestDeleteRange = new EtcdDeleteRangeRequest { Key = encodedKey, PrevKv = true } };
        var response = await WriteOneAsync(encodedKey, delete, expectedModRevision, cancellationToken).ConfigureAwait(false);
        long revision = Revision(response.Header);
        if (!response.Succeeded)
        {
            return new WriteResult(false, revision, CurrentFrom(response));
        }

        return new WriteResult(FirstResponse(response)?.ResponseDeleteRange?.Deleted > 0, revision, null);
    }

    public async ValueTask<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        var etcdRequest = new EtcdTxnRequest
        {
            Compare = request.Compares.Select(ToEtcdCompare).ToList(),
            Success = request.Success.Select(op => ToEtcdOp(op, previous: !request.WithoutPreviousValues)).ToList(),
            Failure = request.Failure.Select(op => ToEtcdOp(op, previous: true)).ToList(),
        };
        return EtcdTxnBatcher.CanGroup(request)
            ? await _batcher.CommitAsync(etcdRequest, request, cancellationToken).ConfigureAwait(false)
            : await SendTxnAsync(etcdRequest, request, cancellationToken).ConfigureAwait(false);
    }

    private async Task<TxnResult> SendTxnAsync(EtcdTxnRequest etcdRequest, TxnRequest request, CancellationToken cancellationToken)
    {
        bool writes = request.Success.Concat(request.Failure).Any(op => op.Type is TxnOpType.Put or TxnOpType.Delete or TxnOpType.DeletePrefix);
        var response = await _client.TxnAsync(etcdRequest, writes, cancellationToken).ConfigureAwait(false);
        var results = (response.Responses ?? []).Select(ToOpResult).ToList();
        return new TxnResult(response.Succeeded, Revision(response.Header), results);
    }

    public async IAsyncEnumerable<WatchEvent> WatchAsync(string prefix, long afterRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentOutOfRangeException.ThrowIfNegative(afterRevision);
        ThrowIfDisposed();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closed.Token);
        var (key, end) = EtcdKeys.Prefix(prefix);
        long delivered = afterRevision;
        long failingSince = 0;
        var backoff = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            // The stream starts at etcd's revision for `delivered` itself (never delivered again) rather than the one
            // after: etcd refuses a start below its compaction point, so the watch fails exactly when history after
            // `delivered` is no longer whole — the contract's rule, where compacting at N discards N itself.
            var request = new EtcdWatchCreateRequest { Key = key, RangeEnd = end, StartRevision = EtcdRevisions.ToEtcd(delivered) };
            var stream = _client.WatchAsync(request, linked.Token).GetAsyncEnumerator(linked.Token);
            StateStoreException? broken = null;
            try
            {
                while (broken is null)
                {
                    EtcdWatchResponse response;
                    try
                    {
                        if (!await stream.MoveNextAsync().ConfigureAwait(false))
                        {
                            break;
                        }

                        response = stream.Current;
                    }
                    catch (StateStoreException exception) when (exception.IsTransient && !linked.IsCancellationRequested)
                    {
                        broken = exception;
                        break;
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && _closed.IsCancellationRequested)
                    {
                        throw Closed();
                    }

                    failingSince = 0;
                    backoff = TimeSpan.FromMilliseconds(100);
                    if (response.Canceled)
                    {
                        if (response.CompactRevision > 0)
                        {
                            throw new RevisionCompactedException(delivered + 1, EtcdRevisions.FromEtcd(response.CompactRevision));
                        }

                        broken = new StateStoreException($"etcd cancelled the watch: {response.CancelReason}", isTransient: true);
                        break;
                    }

                    // Every event of one revision arrives in one message, so `delivered` never splits a revision.
                    long newest = delivered;
                    foreach (var change in response.Events ?? [])
                    {
                        var watchEvent = ToWatchEvent(change);
                        if (watchEvent.Revision > delivered)
                        {
                            newest = Math.Max(newest, watchEvent.Revision);
                            yield return watchEvent;
                        }
                    }

                    delivered = newest;
                }
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            long now = TimeProvider.System.GetTimestamp();
            if (failingSince == 0)
            {
                failingSince = now;
            }
            else if (TimeProvider.System.GetElapsedTime(failingSince, now) > _options.WatchRetryTimeout)
            {
                throw new StateStoreException($"The watch on '{prefix}' could not resume after revision {delivered} on any etcd endpoint.", isTransient: true, broken);
            }

            try
            {
                await Task.Delay(backoff, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && _closed.IsCancellationRequested)
            {
                throw Closed();
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
    }

    /// <summary>etcd grants whole seconds and at least its minimum TTL (2 s by default); the granted TTL is returned.</summary>
    public async ValueTask<LeaseGrant> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        ThrowIfDisposed();
        long seconds = (long)Math.Ceiling(ttl.TotalSeconds);
        var response = await _client.LeaseGrantAsync(new EtcdLeaseGrantRequest { Ttl = seconds }, cancellationToken).ConfigureAwait(false);
        return new LeaseGrant(response.Id, TimeSpan.FromSeconds(response.Ttl));
    }

    public async ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return await _client.LeaseKeepAliveAsync(leaseId, cancellationToken).ConfigureAwait(false) > 0;
    }

    public async ValueTask<bool> RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        try
        {
            await _client.LeaseRevokeAsync(leaseId, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (EtcdRequestException exception) when (exception.Code == EtcdRequestException.NotFound)
        {
            return false;
        }
    }

    /// <summary>
    /// Compacts etcd at the revision after <paramref name="revision"/>'s, so that history at and below it is gone (etcd
    /// keeps the compaction revision itself). Compacting at or below an earlier compaction is a no-op; a revision above
    /// the current one is an <see cref="ArgumentOutOfRangeException"/>, as in the SQLite store.
    /// </summary>
    public async ValueTask CompactAsync(long revision, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(revision);
        ThrowIfDisposed();
        try
        {
            await _client.CompactAsync(new EtcdCompactionRequest { Revision = EtcdRevisions.ToEtcd(revision), Physical = true }, cancellationToken).ConfigureAwait(false);
        }
        catch (EtcdRequestException exception) when (exception.Code == EtcdRequestException.OutOfRange)
        {
            if (exception.Message.Contains("future revision", StringComparison.Ordinal))
            {
                throw new ArgumentOutOfRangeException(nameof(revision), revision, "The revision is above the store's current revision.");
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _closed.Cancel();
            _client.Dispose();
            _closed.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private async Task<EtcdTxnResponse> WriteOneAsync(byte[] key, EtcdRequestOp write, long? expectedModRevision, CancellationToken cancellationToken)
    {
        var request = expectedModRevision is { } expected
            ? new EtcdTxnRequest
            {
                Compare = [new EtcdCompare { Key = key, Target = "MOD", Result = "EQUAL", ModRevision = EtcdRevisions.CompareOperand(expected) }],
                Success = [write],
                Failure = [new EtcdRequestOp { RequestRange = new EtcdRangeRequest { Key = key } }],
            }
            : new EtcdTxnRequest { Success = [write] };
        return await _client.TxnAsync(request, writes: true, cancellationToken).ConfigureAwait(false);
    }

    private static EtcdResponseOp? FirstResponse(EtcdTxnResponse response) => response.Responses is [var first, ..] ? first : null;

    private static KeyValue? CurrentFrom(EtcdTxnResponse response) =>
        FirstResponse(response)?.ResponseRange?.Kvs is [var kv, ..] ? ToKeyValue(kv) : null;

    private static long Revision(EtcdHeader? header) =>
        EtcdRevisions.FromEtcd(header?.Revision ?? throw new StateStoreException("etcd answered without a header.", isTransient: true));

    private static KeyValue ToKeyValue(EtcdKeyValue kv) =>
        new(EtcdKeys.Decode(kv.Key), kv.Value ?? [], EtcdRevisions.FromEtcd(kv.CreateRevision), EtcdRevisions.FromEtcd(kv.ModRevision), kv.Version, kv.Lease);

    private static WatchEvent ToWatchEvent(EtcdEvent change)
    {
        var kv = change.Kv ?? throw new StateStoreException("etcd sent a watch event without a key.", isTransient: true);
        return string.Equals(change.Type, "DELETE", StringComparison.Ordinal)
            ? new WatchEvent(WatchEventType.Delete, new KeyValue(EtcdKeys.Decode(kv.Key), ReadOnlyMemory<byte>.Empty, 0, EtcdRevisions.FromEtcd(kv.ModRevision), 0, 0))
            : new WatchEvent(WatchEventType.Put, ToKeyValue(kv));
    }

    private static EtcdCompare ToEtcdCompare(Compare compare)
    {
        string result = compare.Operator switch
        {
            CompareOperator.Equal => "EQUAL",
            CompareOperator.NotEqual => "NOT_EQUAL",
            CompareOperator.Less => "LESS",
            CompareOperator.Greater => "GREATER",
            _ => throw new ArgumentOutOfRangeException(nameof(compare), compare.Operator, "Unknown compare operator."),
        };
        byte[] key = EtcdKeys.Encode(compare.Key);
        return compare.Target switch
        {
            CompareTarget.ModRevision => new EtcdCompare { Key = key, Target = "MOD", Result = result, ModRevision = EtcdRevisions.CompareOperand(compare.Number) },
            CompareTarget.CreateRevision => new EtcdCompare { Key = key, Target = "CREATE", Result = result, CreateRevision = EtcdRevisions.CompareOperand(compare.Number) },
            CompareTarget.Version => new EtcdCompare { Key = key, Target = "VERSION", Result = result, Version = compare.Number },
            CompareTarget.Value => new EtcdCompare { Key = key, Target = "VALUE", Result = result, Value = compare.Value.ToArray() },
            _ => throw new ArgumentOutOfRangeException(nameof(compare), compare.Target, "Unknown compare target."),
        };
    }

    private static EtcdRequestOp ToEtcdOp(TxnOp op, bool previous)
    {
        ArgumentNullException.ThrowIfNull(op.Key);
        switch (op.Type)
        {
            case TxnOpType.Put:
                return new EtcdRequestOp { RequestPut = new EtcdPutRequest { Key = EtcdKeys.Encode(op.Key), Value = op.Value.ToArray(), Lease = op.Lease, PrevKv = previous } };
            case TxnOpType.Delete:
                return new EtcdRequestOp { RequestDeleteRange = new EtcdDeleteRangeRequest { Key = EtcdKeys.Encode(op.Key), PrevKv = previous } };
            case TxnOpType.DeletePrefix:
                var (deleteKey, deleteEnd) = EtcdKeys.Prefix(op.Key);
                return new EtcdRequestOp { RequestDeleteRange = new EtcdDeleteRangeRequest { Key = deleteKey, RangeEnd = deleteEnd, PrevKv = previous } };
            case TxnOpType.Get:
                return new EtcdRequestOp { RequestRange = new EtcdRangeRequest { Key = EtcdKeys.Encode(op.Key) } };
            case TxnOpType.Range:
                var (rangeKey, rangeEnd) = EtcdKeys.Prefix(op.Key);
                return new EtcdRequestOp { RequestRange = new EtcdRangeRequest { Key = rangeKey, RangeEnd = rangeEnd } };
            default:
                throw new ArgumentOutOfRangeException(nameof(op), op.Type, "Unknown transaction operation.");
        }
    }

    private static TxnOpResult ToOpResult(EtcdResponseOp response)
    {
        if (response.ResponsePut is { } put)
        {
            return new TxnOpResult(put.PrevKv is null ? [] : [ToKeyValue(put.PrevKv)], 0);
        }

        if (response.ResponseDeleteRange is { } delete)
        {
            return new TxnOpResult(delete.PrevKvs?.Select(ToKeyValue).ToList() ?? [], delete.Deleted);
        }

        return new TxnOpResult(response.ResponseRange?.Kvs?.Select(ToKeyValue).ToList() ?? [], 0);
    }

    private static StateStoreException Closed() => new("The etcd state store was closed.", isTransient: false);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
