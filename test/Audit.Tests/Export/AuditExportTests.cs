using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Holdfast.Audit.Chain;
using Holdfast.Audit.Export;
using Holdfast.Audit.Verification;
using Holdfast.Testing;

namespace Holdfast.Audit.Tests.Export;

public sealed class AuditExportTests : IDisposable
{
    private const string ExportKeyId = "export-2026-01";
    private static readonly DateTimeOffset ExportedAt = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly SampleLog _log = SampleLog.Create(count: 50, checkpointEvery: 10);
    private readonly ECDsa _exportKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose()
    {
        _log.Dispose();
        _exportKey.Dispose();
    }

    [Fact]
    public async Task WriteAsync_ThenReadAsync_RoundTripsAndTheLogVerifies()
    {
        var bytes = await ExportAsync(new AuditExportContent(_log.Entries, _log.Checkpoints, null));

        var read = await AuditExport.ReadAsync(new MemoryStream(bytes), pinnedKey: null, CancellationToken.None);

        Assert.True(read.IsValid, read.Message);
        Assert.Equal(AuditExportProblem.None, read.Problem);
        Assert.False(read.IsSignerPinned);
        Assert.Equal(ExportKeyId, read.SignerKeyId);
        Assert.Equal(ExportedAt, read.ExportedAt);
        Assert.Equal(_log.Entries, read.Content!.Entries);
        Assert.Equal(_log.Checkpoints, read.Content.Checkpoints);
        Assert.Null(read.Content.Anchor);
        Assert.True(read.VerifyLog().IsIntact);
        Assert.True(read.VerifyLog(_log.FindKey).IsIntact);
    }

    [Fact]
    public async Task WriteAsync_ToAFile_ReadsBackFromTheFile()
    {
        using var directory = new TempDirectory();
        var path = directory.Combine("audit.jsonl");
        await using (var file = File.Create(path))
        {
            await AuditExport.WriteAsync(file, new AuditExportContent(_log.Entries, _log.Checkpoints, null), ExportKeyId, _exportKey, _log.FindKey, ExportedAt, CancellationToken.None);
        }

        await using var input = File.OpenRead(path);
        var read = await AuditExport.ReadAsync(input, _exportKey, CancellationToken.None);

        Assert.True(read.IsValid, read.Message);
        Assert.True(read.VerifyLog().IsIntact);
    }

    [Fact]
    public async Task WriteAsync_Header_DescribesTheExportAndCarriesThePublicKeys()
    {
        var bytes = await ExportAsync(new AuditExportContent(_log.Entries, _log.Checkpoints, null));
        var lines = Encoding.UTF8.GetString(bytes).Split('\n');

        using var header = JsonDocument.Parse(lines[0]);
        var root = header.RootElement;
        Assert.Equal("holdfast-audit-export", root.GetProperty("format").GetString());
        Assert.Equal(1, root.GetProperty("version").GetInt32());
        Assert.Equal(ExportedAt, root.GetProperty("exportedAt").GetDateTimeOffset());
        Assert.Equal(ExportKeyId, root.GetProperty("keyId").GetString());
        Assert.Equal(1, root.GetProperty("firstSequence").GetInt64());
        Assert.Equal(50, root.GetProperty("lastSequence").GetInt64());
        Assert.Equal(Convert.ToBase64String(_exportKey.ExportSubjectPublicKeyInfo()), root.GetProperty("publicKey").GetString());
        Assert.Equal(Convert.ToBase64String(_log.Key.ExportSubjectPublicKeyInfo()), root.GetProperty("checkpointKeys").GetProperty(SampleLog.KeyId).GetString());

        // Header, 50 entries, 5 checkpoints, trailer, and the empty text after the final newline.
        Assert.Equal(1 + 50 + 5 + 1 + 1, lines.Length);
        Assert.Equal("", lines[^1]);
        using var trailer = JsonDocument.Parse(lines[^2]);
        var hashed = bytes.AsSpan(0, bytes.Length - Encoding.UTF8.GetByteCount(lines[^2]) - 1);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(hashed)), trailer.RootElement.GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task ReadAsync_PinnedKeyMatches_IsSignerPinned()
    {
        var bytes = await ExportAsync(new AuditExportContent(_log.Entries, _log.Checkpoints, null));
        using var pinned = ECDsa.Create();
        pinned.ImportSubjectPublicKeyInfo(_exportKey.ExportSubjectPublicKeyInfo(), out _);

        var read = await AuditExport.ReadAsync(new MemoryStream(bytes), pinned, CancellationToken.None);

        Assert.True(read.IsValid, read.Message);
        Assert.True(read.IsSignerPinned);
    }

    [Fact]
    public async Task ReadAsync_PinnedKeyDiffers_RefusesAsUntrustedKey()
    {
        var bytes = await ExportAsync(new AuditExportContent(_log.Entries, _log.Checkpoints, null));
        using var siteKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var read = await AuditExport.ReadAsync(new MemoryStream(bytes), siteKey, CancellationToken.None);

        Assert.Equal(AuditExportProblem.UntrustedKey, read.Problem);
        Assert.False(read.IsValid);
        Assert.Null(read.Content);
        Assert.Contains("not by the pinned key", read.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_LogEditedThenReExportedWithAnAttackersKey_PassesUnpinnedButIsRefusedWhenPinned()
    {
        // Why pinning matters: the attacker edits an entry, recomputes the chain to the end, and signs a fresh export
        // with a key of their own, embedding it. The file is internally consistent...
        var rewritten = _log.RewrittenFrom(45, e => e with { CallerObjectId = "attacker" });
        using var attackerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var bytes = await ExportAsync(new AuditExportContent(rewritten, _log.Checkpoints, null), attackerKey);

        var unpinned = await AuditExport.ReadAsync(new MemoryStream(bytes), pinnedKey: null, CancellationToken.None);
        var pinned = await AuditExport.ReadAsync(new MemoryStream(bytes), _exportKey, CancellationToken.None);

        Assert.True(unpinned.IsValid, unpinned.Message);
        Assert.Equal(AuditExportProblem.UntrustedKey, pinned.Problem);

        // ...but the site's checkpoint at 50 still catches the rewrite.
        var verification = unpinned.VerifyLog(_log.FindKey);
        Assert.Equal(AuditProblem.BadCheckpoint, verification.Problem);
        Assert.Equal(50, verification.FirstBadSequence);
    }

    [Fact]
    public async Task ReadAsync_AnySingleByteFlipped_ReportsTheFileAsNotValid()
    {
        using var log = SampleLog.Create(count: 4, checkpointEvery: 2);
        var anchor = log.CheckpointAt(2);
        var content = new AuditExportContent(log.Entries.Skip(2).ToList(), [log.CheckpointAt(4)], anchor);
        var bytes = await ExportAsync(content, _exportKey, log.FindKey);
        Assert.True((await AuditExport.ReadAsync(new MemoryStream(bytes), null, CancellationToken.None)).IsValid);

        var accepted = new List<int>();
        for (var position = 0; position < bytes.Length; position++)
        {
            var altered = bytes.ToArray();
            altered[position] ^= 0x01;

            var read = await AuditExport.ReadAsync(new MemoryStream(altered), pinnedKey: null, CancellationToken.None);

            if (read.IsValid)
            {
                accepted.Add(position);
            }
        }

        Assert.True(accepted.Count == 0, $"{accepted.Count} of {bytes.Length} single-byte changes were accepted, first at byte {accepted.FirstOrDefault()}.");
    }

    [Theory]
    [InlineData("entry", AuditExportProblem.Altered)]
    [InlineData("header", AuditExportProblem.Altered)]
    [InlineData("sha256", AuditExportProblem.Altered)]
    [InlineData("signature", AuditExportProblem.BadSignature)]
    public async Task ReadAsync_OneByteFlippedInAPart_ReportsWhatWasAltered(string part, AuditExportProblem expected)
    {
        var bytes = await ExportAsync(new AuditExportContent(_log.Entries, _log.Checkpoints, null));
        var text = Encoding.UTF8.GetString(bytes);
        var position = part switch
        {
            "entry" => text.IndexOf("corr-0017", StringComparison.Ordinal) + 5,
            "header" => text.IndexOf("exportedAt", StringComparison.Ordinal) + 14,
            "sha256" => text.LastIndexOf("\"sha256\":\"", StringComparison.Ordinal) + 12,
            _ => text.LastIndexOf("\"signature\":\"", StringComparison.Ordinal) + 20,
        };
        bytes[position] = (byte)(bytes[position] == (byte)'1' ? '2' : '1');

        var read = await AuditExport.ReadAsync(new MemoryStream(bytes), pinnedKey: null, CancellationToken.None);

        Assert.Equal(expected, read.Problem);
        Assert.Null(read.Content);
    }

    [Fact]
    public async Task ReadAsync_TrailerCutOff_ReportsTruncated()
    {
        var bytes = await ExportAsync(new AuditExportContent(_log.Entries, _log.Checkpoints, null));
        var text = Encoding.UTF8.GetString(bytes);
        var withoutTrailer = text[..(text.TrimEnd('\n').LastIndexOf('\n') + 1)];

        var read = await AuditExport.ReadAsync(new MemoryStream(Encoding.UTF8.GetBytes(withoutTrailer)), pinnedKey: null, CancellationToken.None);

        Assert.Equal(AuditExportProblem.Truncated, read.Problem);
    }

    [Fact]
    public async Task ReadAsync_LineAppendedAfterTheTrailer_ReportsTheFileAsNotValid()
    {
        var bytes = await ExportAsync(new AuditExportContent(_log.Entries, _log.Checkpoints, null));
        var appended = bytes.Concat(AuditJson.Serialize(_log[1])).Concat("\n"u8.ToArray()).ToArray();

        var read = await AuditExport.ReadAsync(new MemoryStream(appended), pinnedKey: null, CancellationToken.None);

        Assert.False(read.IsValid);
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello\n")]
    [InlineData("{\"format\":\"something-else\",\"version\":1}\n{\"sha256\":\"00\",\"signature\":\"AA\",\"keyId\":\"k\"}\n")]
    public async Task ReadAsync_NotAnExport_IsRefused(string text)
    {
        var read = await AuditExport.ReadAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), pinnedKey: null, CancellationToken.None);

        Assert.False(read.IsValid);
        Assert.NotEqual(AuditExportProblem.None, read.Problem);
    }

    [Fact]
    public async Task WriteAsync_TruncatedLogWithAnchor_RoundTripsTheAnchorAndVerifies()
    {
        var content = new AuditExportContent(_log.Entries.Skip(20).ToList(), _log.Checkpoints.Where(c => c.Sequence > 20).ToList(), _log.CheckpointAt(20));
        var bytes = await ExportAsync(content);

        var read = await AuditExport.ReadAsync(new MemoryStream(bytes), _exportKey, CancellationToken.None);

        Assert.True(read.IsValid, read.Message);
        Assert.Equal(_log.CheckpointAt(20), read.Content!.Anchor);
        var verification = read.VerifyLog();
        Assert.True(verification.IsIntact, verification.Message);
    }

    [Fact]
    public async Task WriteAsync_TamperedLog_ExportsFaithfullySoVerificationStillFindsIt()
    {
        var entries = _log.With(23, e => e with { HttpStatusCode = e.HttpStatusCode + 1 });
        var bytes = await ExportAsync(new AuditExportContent(entries, _log.Checkpoints, null));

        var read = await AuditExport.ReadAsync(new MemoryStream(bytes), _exportKey, CancellationToken.None);

        Assert.True(read.IsValid, read.Message);
        var verification = read.VerifyLog();
        Assert.Equal(AuditProblem.Edited, verification.Problem);
        Assert.Equal(23, verification.FirstBadSequence);
    }

    [Fact]
    public async Task WriteAsync_CheckpointKeyUnknownToTheWriter_LeavesItOutAndVerificationReportsUnknownKey()
    {
        var bytes = await ExportAsync(new AuditExportContent(_log.Entries, _log.Checkpoints, null), publicKeyById: _ => null);

        var read = await AuditExport.ReadAsync(new MemoryStream(bytes), _exportKey, CancellationToken.None);

        Assert.True(read.IsValid, read.Message);
        Assert.Equal(AuditProblem.UnknownKey, read.VerifyLog().Problem);
    }

    [Fact]
    public async Task WriteAsync_EmptyLog_RoundTrips()
    {
        var bytes = await ExportAsync(new AuditExportContent([], [], null));

        var read = await AuditExport.ReadAsync(new MemoryStream(bytes), _exportKey, CancellationToken.None);

        Assert.True(read.IsValid, read.Message);
        Assert.Empty(read.Content!.Entries);
        Assert.True(read.VerifyLog().IsIntact);
    }

    private async Task<byte[]> ExportAsync(AuditExportContent content, ECDsa? signingKey = null, Func<string, ECDsa?>? publicKeyById = null)
    {
        using var output = new MemoryStream();
        await AuditExport.WriteAsync(output, content, ExportKeyId, signingKey ?? _exportKey, publicKeyById ?? _log.FindKey, ExportedAt, CancellationToken.None);
        return output.ToArray();
    }
}
