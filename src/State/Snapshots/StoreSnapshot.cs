using System.Security.Cryptography;
using System.Text;

namespace Holdfast.State.Snapshots;

/// <summary>What a backup wrote: its header, and how many lease-bound keys it left out.</summary>
public sealed record SnapshotSummary(SnapshotHeader Header, long SkippedKeys);

/// <summary>
/// Writes every key of a store, read at one revision, to one file (<see cref="SnapshotFormat"/>), page by page, so
/// memory stays bounded by a page whatever the store's size. Keys bound to a lease (the leader key, replica
/// registrations) are left out: their lease would not exist in the restored store.
/// </summary>
public static class StoreSnapshot
{
    /// <summary>Keys read per range page.</summary>
    public const int PageSize = 256;

    /// <summary>
    /// True for keys a snapshot never carries: any key bound to a lease, and the cluster's leader and replica keys
    /// whatever their lease (they describe running processes, not state).
    /// </summary>
    public static bool IsSkipped(KeyValue kv)
    {
        ArgumentNullException.ThrowIfNull(kv);
        return kv.Lease != 0
            || kv.Key == "/cluster/leader"
            || kv.Key.StartsWith("/cluster/replicas/", StringComparison.Ordinal);
    }

    /// <summary>
    /// Writes a snapshot of <paramref name="store"/> to <paramref name="output"/>: the files first, then every key at
    /// the store's revision when the backup starts. The keys are read twice at that revision (once to count them
    /// for the header, once to write them), so a stream that cannot seek works too. Throws
    /// <see cref="RevisionCompactedException"/> when the store compacts that revision away meanwhile (etcd; try again),
    /// or when a SQLite store is written to meanwhile (back up a copy: see docs/operations.md).
    /// </summary>
    public static async Task<SnapshotSummary> WriteAsync(
        IStateStore store, string source, IReadOnlyList<SnapshotFile> files, Stream output, DateTimeOffset createdAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(output);
        foreach (var file in files)
        {
            if (!SnapshotFormat.IsSafeRelativePath(file.Path) || file.Content.Length > SnapshotFormat.MaxFileLength)
            {
                throw new ArgumentException($"The file '{file.Path}' cannot go in a snapshot (a relative path of at most {SnapshotFormat.MaxPathLength} characters, at most {SnapshotFormat.MaxFileLength} bytes).", nameof(files));
            }
        }

        long revision = await store.GetRevisionAsync(cancellationToken).ConfigureAwait(false);
        long keyCount = 0;
        long skipped = 0;
        await foreach (var kv in ReadAllAsync(store, revision, cancellationToken).ConfigureAwait(false))
        {
            if (IsSkipped(kv))
            {
                skipped++;
            }
            else
            {
                keyCount++;
            }
        }

        var header = new SnapshotHeader(SnapshotFormat.Version, source, revision, keyCount, files.Count, createdAt);
        using var writer = new HashingWriter(output);
        await writer.WriteAsync(SnapshotFormat.Magic.ToArray(), cancellationToken).ConfigureAwait(false);
        await writer.WriteBlockAsync(SnapshotFormat.SerializeHeader(header), cancellationToken).ConfigureAwait(false);
        foreach (var file in files)
        {
            await writer.WriteByteAsync(SnapshotFormat.FileRecord, cancellationToken).ConfigureAwait(false);
            await writer.WriteBlockAsync(Encoding.UTF8.GetBytes(file.Path), cancellationToken).ConfigureAwait(false);
            await writer.WriteUInt32Async(file.Mode, cancellationToken).ConfigureAwait(false);
            await writer.WriteBlockAsync(file.Content, cancellationToken).ConfigureAwait(false);
        }

        long written = 0;
        await foreach (var kv in ReadAllAsync(store, revision, cancellationToken).ConfigureAwait(false))
        {
            if (IsSkipped(kv))
            {
                continue;
            }

            await writer.WriteByteAsync(SnapshotFormat.KeyRecord, cancellationToken).ConfigureAwait(false);
            await writer.WriteBlockAsync(Encoding.UTF8.GetBytes(kv.Key), cancellationToken).ConfigureAwait(false);
            await writer.WriteBlockAsync(kv.Value, cancellationToken).ConfigureAwait(false);
            written++;
        }

        if (written != keyCount)
        {
            throw new StateStoreException($"The store returned {written} keys at revision {revision} where it had returned {keyCount}.", isTransient: true);
        }

        await writer.WriteByteAsync(SnapshotFormat.EndRecord, cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(writer.Finish(), cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return new SnapshotSummary(header, skipped);
    }

    /// <summary>Every key of the store at <paramref name="revision"/>, in key order, one page in memory at a time.</summary>
    private static async IAsyncEnumerable<KeyValue> ReadAllAsync(IStateStore store, long revision, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (revision == 0)
        {
            yield break;
        }

        string? after = null;
        do
        {
            var page = await store.RangeAsync(new RangeRequest("", PageSize, after, revision), cancellationToken).ConfigureAwait(false);
            foreach (var kv in page.Items)
            {
                yield return kv;
            }

            after = page.ContinueAfter;
        }
        while (after is not null);
    }

    /// <summary>Writes to a stream and hashes every byte written.</summary>
    private sealed class HashingWriter(Stream output) : IDisposable
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly byte[] _small = new byte[4];

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
        {
            _hash.AppendData(bytes.Span);
            await output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }

        public ValueTask WriteByteAsync(byte value, CancellationToken cancellationToken)
        {
            _small[0] = value;
            return WriteAsync(_small.AsMemory(0, 1), cancellationToken);
        }

        public ValueTask WriteUInt32Async(int value, CancellationToken cancellationToken)
        {
            SnapshotFormat.WriteUInt32(_small, value);
            return WriteAsync(_small, cancellationToken);
        }

        /// <summary>A length-prefixed block.</summary>
        public async ValueTask WriteBlockAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
        {
            await WriteUInt32Async(bytes.Length, cancellationToken).ConfigureAwait(false);
            await WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }

        public byte[] Finish() => _hash.GetHashAndReset();

        public void Dispose() => _hash.Dispose();
    }
}
