namespace Holdfast.State.Etcd.Client;

/// <summary>
/// The etcd v3 calls the store makes (<see cref="EtcdGrpcClient"/>: gRPC). Calls fail with <see cref="StateStoreException"/> (an
/// <see cref="EtcdRequestException"/> carrying etcd's code when etcd answered).
/// </summary>
internal interface IEtcdClient : IDisposable
{
    Task<EtcdRangeResponse> RangeAsync(EtcdRangeRequest request, CancellationToken cancellationToken);

    /// <summary><paramref name="writes"/> false marks a read-only transaction, which is safe to retry on another member.</summary>
    Task<EtcdTxnResponse> TxnAsync(EtcdTxnRequest request, bool writes, CancellationToken cancellationToken);

    Task CompactAsync(EtcdCompactionRequest request, CancellationToken cancellationToken);

    Task<EtcdLeaseResponse> LeaseGrantAsync(EtcdLeaseGrantRequest request, CancellationToken cancellationToken);

    /// <summary>The remaining TTL in seconds; 0 or less when the lease no longer exists.</summary>
    Task<long> LeaseKeepAliveAsync(long leaseId, CancellationToken cancellationToken);

    Task LeaseRevokeAsync(long leaseId, CancellationToken cancellationToken);

    /// <summary>
    /// One watch stream on one member, from <c>created</c> to the end of the connection. The sequence ends with an
    /// exception when the stream breaks; the caller resumes on a new stream.
    /// </summary>
    IAsyncEnumerable<EtcdWatchResponse> WatchAsync(EtcdWatchCreateRequest request, CancellationToken cancellationToken);
}
