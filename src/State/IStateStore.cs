namespace Holdfast.State;

/// <summary>
/// The control plane's only persistence contract, modelled on etcd v3 (and on kine's SQL emulation of it).
/// Every successful write or transaction advances one global revision by exactly one (transactions that opt in with
/// <see cref="TxnRequest.MayShareRevision"/> may share one), and is acknowledged only once it is durable. Keys are ordinal (byte-wise) ordered strings. Expected outcomes — a failed compare, a
/// missing key — are values; exceptions (<see cref="StateStoreException"/>) are for the unexpected.
/// </summary>
public interface IStateStore : IAsyncDisposable
{
    /// <summary>The revision of the newest committed write (0 for an empty store).</summary>
    ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken);

    ValueTask<KeyValue?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// As <see cref="GetAsync"/>, but a replicated store may answer from its member's own copy without a quorum round
    /// (etcd's serializable read), so the value can be a little behind. Only for a read that a compare-and-swap checks
    /// afterwards, where staleness costs a retry and never a wrong write; a caller that would refuse or answer because
    /// of what it read reads again with <see cref="GetAsync"/> first. The embedded stores answer it as <see cref="GetAsync"/>.
    /// </summary>
    ValueTask<KeyValue?> GetSerializableAsync(string key, CancellationToken cancellationToken) => GetAsync(key, cancellationToken);

    /// <summary>
    /// Keys starting with <see cref="RangeRequest.Prefix"/>, in ordinal order, read from one consistent snapshot.
    /// Page with <see cref="RangeRequest.StartAfter"/> set to the previous page's <see cref="RangeResult.ContinueAfter"/>.
    /// </summary>
    ValueTask<RangeResult> RangeAsync(RangeRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Writes <paramref name="key"/>. With <paramref name="expectedModRevision"/> set, the write happens only if the
    /// key's current mod revision equals it (0 means "the key must not exist"); otherwise the result is not
    /// succeeded and carries the current value.
    /// </summary>
    ValueTask<WriteResult> PutAsync(string key, ReadOnlyMemory<byte> value, long? expectedModRevision, CancellationToken cancellationToken, long lease = 0);

    /// <summary>Deletes <paramref name="key"/>; compare-and-swap as in <see cref="PutAsync"/>. Deleting a missing key is not succeeded.</summary>
    ValueTask<WriteResult> DeleteAsync(string key, long? expectedModRevision, CancellationToken cancellationToken);

    /// <summary>
    /// An atomic etcd-style transaction: if every compare holds, the success operations run, otherwise the failure
    /// operations. All writes of one transaction share one new revision; a transaction that writes nothing does not
    /// advance the revision.
    /// </summary>
    ValueTask<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Every change to a key under <paramref name="prefix"/> with a revision greater than <paramref name="afterRevision"/>,
    /// in revision order, then live changes until cancelled. Throws <see cref="RevisionCompactedException"/> when the
    /// history after <paramref name="afterRevision"/> has been compacted away.
    /// </summary>
    IAsyncEnumerable<WatchEvent> WatchAsync(string prefix, long afterRevision, CancellationToken cancellationToken);

    /// <summary>Grants a lease; keys written with it are deleted (with watch events) when it expires or is revoked.</summary>
    ValueTask<LeaseGrant> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Renews a lease for its full TTL. False when the lease no longer exists (expired or revoked).</summary>
    ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken);

    /// <summary>Revokes a lease and deletes its keys. False when the lease no longer exists.</summary>
    ValueTask<bool> RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken);

    /// <summary>Discards watch history at and below <paramref name="revision"/>; current values are kept.</summary>
    ValueTask CompactAsync(long revision, CancellationToken cancellationToken);
}
