using System.Text;
using Holdfast.State.Snapshots;
using Holdfast.Testing;
using Xunit;

namespace Holdfast.State.Tests.Snapshots;

/// <summary>The snapshot file written from one store and restored into another (in-memory stores; the backends run it end to end in Server.IntegrationTests).</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Disposed in IAsyncLifetime.DisposeAsync, which xunit calls after every test.")]
public sealed class StoreSnapshotTests : IAsyncLifetime
{
    private static readonly DateTimeOffset CreatedAt = new(2026, 12, 7, 6, 0, 0, TimeSpan.Zero);
    private readonly ManualTimeProvider _time = new();
    private InMemoryStateStore _source = null!;
    private InMemoryStateStore _target = null!;

    public Task InitializeAsync()
    {
        _source = new InMemoryStateStore(_time);
        _target = new InMemoryStateStore(_time);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _source.DisposeAsync();
        await _target.DisposeAsync();
    }

    [Fact]
    public async Task RestoreAsync_SnapshotOfStore_RestoresEveryKeyAndFileButNoLeaseBoundKey()
    {
        var keys = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < 600; i++)
        {
            keys[$"/resources/k{i:D4}"] = $"value {i}";
        }

        keys["/é/ünïcode"] = "non-ascii key";
        keys["/empty"] = "";
        foreach (var (key, value) in keys)
        {
            await _source.PutAsync(key, Encoding.UTF8.GetBytes(value), null, default);
        }

        var lease = await _source.GrantLeaseAsync(TimeSpan.FromSeconds(30), default);
        await _source.PutAsync("/cluster/leader", "leader"u8.ToArray(), null, default, lease.Id);
        await _source.PutAsync("/cluster/replicas/r1", "r1"u8.ToArray(), null, default);
        await _source.PutAsync("/other/leased", "x"u8.ToArray(), null, default, lease.Id);
        SnapshotFile[] files = [new("tls/ca.pem", 0b110_100_100, "ca"u8.ToArray()), new("keys/signing-a.pem", 0b110_000_000, "key"u8.ToArray())];

        using var file = new MemoryStream();
        var summary = await StoreSnapshot.WriteAsync(_source, "memory", files, file, CreatedAt, default);
        file.Position = 0;
        var restoredFiles = new List<SnapshotFile>();
        var header = await SnapshotRestore.RestoreAsync(file, _target, (f, _) => { restoredFiles.Add(f); return ValueTask.CompletedTask; }, new SnapshotRestoreOptions(), default);

        Assert.Equal(summary.Header, header);
        Assert.Equal((1, "memory", keys.Count, 2, CreatedAt), (header.FormatVersion, header.Source, header.KeyCount, header.FileCount, header.CreatedAt));
        Assert.Equal(await _source.GetRevisionAsync(default), header.Revision);
        Assert.Equal(3, summary.SkippedKeys);
        var restored = (await _target.RangeAsync(new RangeRequest(""), default)).Items;
        Assert.Equal(keys.Keys, restored.Select(kv => kv.Key));
        Assert.Equal(keys.Values, restored.Select(kv => Encoding.UTF8.GetString(kv.Value.Span)));
        Assert.All(restored, kv => Assert.Equal(0, kv.Lease));
        Assert.Equal(files.Select(f => (f.Path, f.Mode, Encoding.UTF8.GetString(f.Content.Span))), restoredFiles.Select(f => (f.Path, f.Mode, Encoding.UTF8.GetString(f.Content.Span))));
    }

    [Fact]
    public async Task RestoreAsync_ManyKeys_WritesBatchesOfAtMostTheLimit()
    {
        for (int i = 0; i < 300; i++)
        {
            await _source.PutAsync($"/k/{i:D3}", "v"u8.ToArray(), null, default);
        }

        using var file = await SnapshotAsync();
        await SnapshotRestore.RestoreAsync(file, _target, null, new SnapshotRestoreOptions { MaxKeysPerTransaction = 128 }, default);

        // One revision per transaction: 128 + 128 + 44.
        Assert.Equal(3, await _target.GetRevisionAsync(default));
        Assert.Equal(300, (await _target.RangeAsync(new RangeRequest("/k/"), default)).Items.Count);
    }

    [Fact]
    public async Task RestoreAsync_LargeValues_SplitsBatchesByBytes()
    {
        for (int i = 0; i < 10; i++)
        {
            await _source.PutAsync($"/big/{i}", new byte[400], null, default);
        }

        using var file = await SnapshotAsync();
        await SnapshotRestore.RestoreAsync(file, _target, null, new SnapshotRestoreOptions { MaxBytesPerTransaction = 1000 }, default);

        // Two keys (about 800 bytes) fit under 1000, a third does not: five transactions.
        Assert.Equal(5, await _target.GetRevisionAsync(default));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(20)]
    [InlineData(60)]
    [InlineData(-40)]
    [InlineData(-1)]
    public async Task RestoreAsync_OneByteChanged_RefusesAndWritesNothing(int offset)
    {
        await _source.PutAsync("/a", "one"u8.ToArray(), null, default);
        await _source.PutAsync("/b", "two"u8.ToArray(), null, default);
        using var file = await SnapshotAsync([new SnapshotFile("tls/ca.pem", 420, "ca"u8.ToArray())]);
        var bytes = file.ToArray();
        int at = offset >= 0 ? offset : bytes.Length + offset;
        bytes[at] ^= 0x01;
        bool fileWritten = false;

        await Assert.ThrowsAsync<InvalidDataException>(() => SnapshotRestore.RestoreAsync(
            new MemoryStream(bytes), _target, (_, _) => { fileWritten = true; return ValueTask.CompletedTask; }, new SnapshotRestoreOptions(), default));

        Assert.False(fileWritten);
        Assert.Equal(0, await _target.GetRevisionAsync(default));
    }

    [Fact]
    public async Task RestoreAsync_TruncatedFile_RefusesAndWritesNothing()
    {
        await _source.PutAsync("/a", "one"u8.ToArray(), null, default);
        using var file = await SnapshotAsync();
        var bytes = file.ToArray()[..^5];

        await Assert.ThrowsAsync<InvalidDataException>(() => SnapshotRestore.RestoreAsync(new MemoryStream(bytes), _target, null, new SnapshotRestoreOptions(), default));

        Assert.Equal(0, await _target.GetRevisionAsync(default));
    }

    [Fact]
    public async Task RestoreAsync_TargetNotEmpty_RefusesAndWritesNothing()
    {
        await _source.PutAsync("/a", "one"u8.ToArray(), null, default);
        await _target.PutAsync("/already", "here"u8.ToArray(), null, default);
        using var file = await SnapshotAsync([new SnapshotFile("tls/ca.pem", 420, "ca"u8.ToArray())]);
        bool fileWritten = false;

        var refused = await Assert.ThrowsAsync<SnapshotTargetNotEmptyException>(() => SnapshotRestore.RestoreAsync(
            file, _target, (_, _) => { fileWritten = true; return ValueTask.CompletedTask; }, new SnapshotRestoreOptions(), default));

        Assert.Contains("/already", refused.Message, StringComparison.Ordinal);
        Assert.False(fileWritten);
        Assert.Equal(1, await _target.GetRevisionAsync(default));
        Assert.Null(await _target.GetAsync("/a", default));
    }

    [Fact]
    public async Task VerifyAsync_NotASnapshot_Refuses()
    {
        using var file = new MemoryStream(Encoding.UTF8.GetBytes(new string('x', 100)));

        var refused = await Assert.ThrowsAsync<InvalidDataException>(() => SnapshotRestore.VerifyAsync(file, default));

        Assert.Contains("not a Holdfast snapshot", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyAsync_EmptyStore_HasNoKeysAndVerifies()
    {
        using var file = await SnapshotAsync();

        var header = await SnapshotRestore.VerifyAsync(file, default);

        Assert.Equal((0L, 0L), (header.Revision, header.KeyCount));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("/etc/passwd")]
    [InlineData("tls//ca.pem")]
    [InlineData("a\\b")]
    public async Task WriteAsync_UnsafeFilePath_Refuses(string path)
    {
        using var file = new MemoryStream();

        await Assert.ThrowsAsync<ArgumentException>(() => StoreSnapshot.WriteAsync(_source, "memory", [new SnapshotFile(path, 384, "x"u8.ToArray())], file, CreatedAt, default));
    }

    private async Task<MemoryStream> SnapshotAsync(SnapshotFile[]? files = null)
    {
        var file = new MemoryStream();
        await StoreSnapshot.WriteAsync(_source, "memory", files ?? [], file, CreatedAt, default);
        file.Position = 0;
        return file;
    }
}
