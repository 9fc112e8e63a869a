using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Holdfast.State.Snapshots;

/// <summary>How a restore writes: at most this many keys and about this many bytes of values per transaction.</summary>
/// <remarks>
/// The defaults fit etcd's own defaults (<c>--max-txn-ops=128</c>, <c>--max-request-bytes</c> 1.5 MiB): a restore
/// works on an etcd cluster started without Holdfast's recommended flags.
/// </remarks>
public sealed record SnapshotRestoreOptions
{
    public int MaxKeysPerTransaction { get; init; } = 128;

    public int MaxBytesPerTransaction { get; init; } = 1024 * 1024;
}

/// <summary>The target of a restore already holds keys: restores go only into an empty store.</summary>
public sealed class SnapshotTargetNotEmptyException(string message) : InvalidOperationException(message);

/// <summary>
/// Reads snapshot files: <see cref="VerifyAsync(Stream, CancellationToken)"/> checks the whole file (structure, counts, SHA-256 trailer) without
/// writing anything; <see cref="RestoreAsync"/> verifies first, refuses a store that is not empty, then writes the
/// files through a callback and the keys in batched transactions, each key guarded by a compare that it is absent,
/// so a restore never overwrites anything. Damage is an <see cref="InvalidDataException"/>.
/// </summary>
public static class SnapshotRestore
{
    /// <summary>Reads the whole snapshot and checks it; returns its header. The stream must be seekable (a file).</summary>
    public static Task<SnapshotHeader> VerifyAsync(Stream input, CancellationToken cancellationToken) => VerifyAsync(input, null, cancellationToken);

    /// <summary>As <see cref="VerifyAsync(Stream, CancellationToken)"/>, adding the path of every file the snapshot holds to <paramref name="filePaths"/>.</summary>
    public static async Task<SnapshotHeader> VerifyAsync(Stream input, ICollection<string>? filePaths, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var reader = SnapshotReader.Open(input);
        var header = await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadRecordAsync(cancellationToken).ConfigureAwait(false) is { } record)
        {
            if (record.File is { } file)
            {
                filePaths?.Add(file.Path);
            }
        }

        await reader.CheckTrailerAsync(cancellationToken).ConfigureAwait(false);
        return header;
    }

    /// <summary>
    /// Verifies <paramref name="input"/>, checks that <paramref name="target"/> holds no key, then writes: every file
    /// to <paramref name="writeFile"/> (null: files are ignored), then every key. Returns the snapshot's header.
    /// </summary>
    public static async Task<SnapshotHeader> RestoreAsync(
        Stream input,
        IStateStore target,
        Func<SnapshotFile, CancellationToken, ValueTask>? writeFile,
        SnapshotRestoreOptions options,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxKeysPerTransaction, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBytesPerTransaction, 1, nameof(options));

        var verified = await VerifyAsync(input, cancellationToken).ConfigureAwait(false);
        await EnsureEmptyAsync(target, cancellationToken).ConfigureAwait(false);

        input.Position = 0;
        using var reader = SnapshotReader.Open(input);
        var header = await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
        if (header != verified)
        {
            throw new InvalidDataException("The snapshot changed while it was being restored.");
        }

        var keys = new List<(string Key, byte[] Value)>();
        long bytes = 0;
        while (await reader.ReadRecordAsync(cancellationToken).ConfigureAwait(false) is { } record)
        {
            if (record.File is { } file)
            {
                if (writeFile is not null)
                {
                    await writeFile(file, cancellationToken).ConfigureAwait(false);
                }

                continue;
            }

            if (keys.Count > 0 && (keys.Count == options.MaxKeysPerTransaction || bytes + record.Value!.Length > options.MaxBytesPerTransaction))
            {
                await WriteBatchAsync(target, keys, cancellationToken).ConfigureAwait(false);
                keys.Clear();
                bytes = 0;
            }

            keys.Add((record.Key!, record.Value!));
            bytes += record.Key!.Length + record.Value!.Length;
        }

        if (keys.Count > 0)
        {
            await WriteBatchAsync(target, keys, cancellationToken).ConfigureAwait(false);
        }

        // The hash is checked again: the bytes just written are the bytes that were verified.
        await reader.CheckTrailerAsync(cancellationToken).ConfigureAwait(false);
        return header;
    }

    /// <summary>Throws <see cref="SnapshotTargetNotEmptyException"/> unless <paramref name="target"/> holds no key.</summary>
    public static async Task EnsureEmptyAsync(IStateStore target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var any = await target.RangeAsync(new RangeRequest("", Limit: 1), cancellationToken).ConfigureAwait(false);
        if (any.Items.Count > 0)
        {
            throw new SnapshotTargetNotEmptyException($"The target store is not empty (it holds '{any.Items[0].Key}', revision {any.Revision}): a snapshot is restored only into an empty store.");
        }
    }

    private static async Task WriteBatchAsync(IStateStore target, List<(string Key, byte[] Value)> keys, CancellationToken cancellationToken)
    {
        var request = new TxnRequest(
            keys.Select(k => Compare.Absent(k.Key)).ToList(),
            keys.Select(k => TxnOp.Put(k.Key, k.Value)).ToList());
        var result = await target.TxnAsync(request, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new SnapshotTargetNotEmptyException(
                $"A key between '{keys[0].Key}' and '{keys[^1].Key}' appeared in the target store during the restore: something else writes to it. Stop it and restore into an empty store.");
        }
    }

    /// <summary>One record: a file, or a key and its value.</summary>
    private sealed record SnapshotRecord(SnapshotFile? File, string? Key, byte[]? Value);

    /// <summary>Reads records in order, hashing every byte before the trailer; refuses anything malformed.</summary>
    private sealed class SnapshotReader : IDisposable
    {
        private readonly Stream _input;
        private readonly long _end;
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly byte[] _small = new byte[4];
        private SnapshotHeader? _header;
        private long _files;
        private long _keys;
        private byte[]? _lastKey;
        private bool _ended;

        private SnapshotReader(Stream input, long end)
        {
            _input = input;
            _end = end;
        }

        public static SnapshotReader Open(Stream input)
        {
            if (!input.CanSeek)
            {
                throw new ArgumentException("A snapshot is read from a seekable stream (a file).", nameof(input));
            }

            long end = input.Length - SnapshotFormat.TrailerLength;
            if (end < SnapshotFormat.Magic.Length)
            {
                throw new InvalidDataException("The file is too short to be a Holdfast snapshot.");
            }

            return new SnapshotReader(input, end);
        }

        public async Task<SnapshotHeader> ReadHeaderAsync(CancellationToken cancellationToken)
        {
            var magic = await ReadAsync(SnapshotFormat.Magic.Length, cancellationToken).ConfigureAwait(false);
            if (!magic.AsSpan().SequenceEqual(SnapshotFormat.Magic))
            {
                throw new InvalidDataException("The file is not a Holdfast snapshot (its first bytes are not HOLDFAST-SNAPSHOT).");
            }

            var json = await ReadBlockAsync(SnapshotFormat.MaxHeaderLength, "header", cancellationToken).ConfigureAwait(false);
            var header = SnapshotFormat.ParseHeader(json);
            if (header.FormatVersion != SnapshotFormat.Version)
            {
                throw new InvalidDataException($"The snapshot has format version {header.FormatVersion}; this holdfast reads version {SnapshotFormat.Version}.");
            }

            if (header.KeyCount < 0 || header.FileCount < 0 || header.Revision < 0 || string.IsNullOrEmpty(header.Source))
            {
                throw new InvalidDataException("The snapshot header has negative counts, a negative revision or no source.");
            }

            _header = header;
            return header;
        }

        /// <summary>The next record, or null after the end record (whose counts must match the header).</summary>
        public async Task<SnapshotRecord?> ReadRecordAsync(CancellationToken cancellationToken)
        {
            var header = _header ?? throw new InvalidOperationException("Read the header first.");
            if (_ended)
            {
                return null;
            }

            var type = (await ReadAsync(1, cancellationToken).ConfigureAwait(false))[0];
            switch (type)
            {
                case SnapshotFormat.FileRecord when _keys == 0:
                    var path = SnapshotFormat.DecodeKey(await ReadBlockAsync(SnapshotFormat.MaxPathLength, "file path", cancellationToken).ConfigureAwait(false));
                    if (!SnapshotFormat.IsSafeRelativePath(path))
                    {
                        throw new InvalidDataException($"The snapshot holds a file with an unsafe path '{path}'.");
                    }

                    int mode = (int)(await ReadUInt32Async(cancellationToken).ConfigureAwait(false) & 0xFFF);
                    var content = await ReadBlockAsync(SnapshotFormat.MaxFileLength, "file", cancellationToken).ConfigureAwait(false);
                    if (++_files > header.FileCount)
                    {
                        throw new InvalidDataException($"The snapshot holds more files than its header's {header.FileCount}.");
                    }

                    return new SnapshotRecord(new SnapshotFile(path, mode, content), null, null);
                case SnapshotFormat.KeyRecord:
                    var keyBytes = await ReadBlockAsync(SnapshotFormat.MaxKeyLength, "key", cancellationToken).ConfigureAwait(false);
                    var key = SnapshotFormat.DecodeKey(keyBytes);

                    // Stores order keys byte-wise as UTF-8; a snapshot holds each once, in that order.
                    if (key.Length == 0 || (_lastKey is not null && _lastKey.AsSpan().SequenceCompareTo(keyBytes) >= 0))
                    {
                        throw new InvalidDataException($"The snapshot's keys are not in order at '{key}'.");
                    }

                    var value = await ReadBlockAsync(SnapshotFormat.MaxValueLength, "value", cancellationToken).ConfigureAwait(false);
                    if (++_keys > header.KeyCount)
                    {
                        throw new InvalidDataException($"The snapshot holds more keys than its header's {header.KeyCount}.");
                    }

                    _lastKey = keyBytes;
                    return new SnapshotRecord(null, key, value);
                case SnapshotFormat.EndRecord:
                    if (_files != header.FileCount || _keys != header.KeyCount)
                    {
                        throw new InvalidDataException($"The snapshot ends after {_keys} keys and {_files} files; its header promises {header.KeyCount} and {header.FileCount}.");
                    }

                    _ended = true;
                    return null;
                default:
                    throw new InvalidDataException($"The snapshot holds an unknown record type 0x{type:x2} at byte {_input.Position - 1}.");
            }
        }

        public async Task CheckTrailerAsync(CancellationToken cancellationToken)
        {
            if (!_ended || _input.Position != _end)
            {
                throw new InvalidDataException("The snapshot has bytes after its end record, or none.");
            }

            var expected = new byte[SnapshotFormat.TrailerLength];
            await _input.ReadExactlyAsync(expected, cancellationToken).ConfigureAwait(false);
            if (!CryptographicOperations.FixedTimeEquals(_hash.GetHashAndReset(), expected))
            {
                throw new InvalidDataException("The snapshot's SHA-256 does not match its contents: the file is damaged.");
            }
        }

        public void Dispose() => _hash.Dispose();

        private async Task<uint> ReadUInt32Async(CancellationToken cancellationToken)
        {
            await ReadIntoAsync(_small, cancellationToken).ConfigureAwait(false);
            return BinaryPrimitives.ReadUInt32LittleEndian(_small);
        }

        private async Task<byte[]> ReadBlockAsync(int maxLength, string what, CancellationToken cancellationToken)
        {
            uint length = await ReadUInt32Async(cancellationToken).ConfigureAwait(false);
            if (length > maxLength)
            {
                throw new InvalidDataException($"The snapshot holds a {what} of {length} bytes, more than the {maxLength} allowed.");
            }

            return await ReadAsync((int)length, cancellationToken).ConfigureAwait(false);
        }

        private async Task<byte[]> ReadAsync(int length, CancellationToken cancellationToken)
        {
            var buffer = new byte[length];
            await ReadIntoAsync(buffer, cancellationToken).ConfigureAwait(false);
            return buffer;
        }

        private async Task ReadIntoAsync(byte[] buffer, CancellationToken cancellationToken)
        {
            if (_input.Position + buffer.Length > _end)
            {
                throw new InvalidDataException("The snapshot is cut short (a record runs into the checksum or past the end).");
            }

            await _input.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
            _hash.AppendData(buffer);
        }
    }
}
