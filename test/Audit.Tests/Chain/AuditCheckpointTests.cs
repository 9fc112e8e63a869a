using System.Security.Cryptography;
using System.Text;
using Holdfast.Audit.Chain;

namespace Holdfast.Audit.Tests.Chain;

public sealed class AuditCheckpointTests : IDisposable
{
    private const string EntryHash = "e8995372f19696d7448c1a05954be968217c6562cd0308a3a1faf7bcd3e726ed";
    private static readonly DateTimeOffset CreatedAt = new(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2));

    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose()
    {
        _key.Dispose();
        _otherKey.Dispose();
    }

    [Fact]
    public void GetSignedBytes_FixedCheckpoint_MatchesPinnedEncoding()
    {
        var checkpoint = AuditCheckpoint.Sign(10, EntryHash, CreatedAt, "audit-1", _key);

        Assert.Equal(
            """{"createdAt":"2026-01-02T01:04:05.0000000Z","entryHash":"e8995372f19696d7448c1a05954be968217c6562cd0308a3a1faf7bcd3e726ed","keyId":"audit-1","purpose":"holdfast-audit-checkpoint/1","sequence":10}""",
            Encoding.UTF8.GetString(checkpoint.GetSignedBytes()));
    }

    [Fact]
    public void Sign_ThenVerifySignature_WithTheSameKey_ReturnsTrue()
    {
        var checkpoint = AuditCheckpoint.Sign(10, EntryHash, CreatedAt, "audit-1", _key);

        Assert.True(checkpoint.VerifySignature(_key));
        Assert.Equal(86, checkpoint.Signature.Length);
        Assert.Equal(TimeSpan.Zero, checkpoint.CreatedAt.Offset);
    }

    [Fact]
    public void VerifySignature_PublicHalfOnly_ReturnsTrue()
    {
        var checkpoint = AuditCheckpoint.Sign(10, EntryHash, CreatedAt, "audit-1", _key);
        using var publicKey = ECDsa.Create();
        publicKey.ImportSubjectPublicKeyInfo(_key.ExportSubjectPublicKeyInfo(), out _);

        Assert.True(checkpoint.VerifySignature(publicKey));
    }

    [Fact]
    public void VerifySignature_OtherKey_ReturnsFalse()
    {
        var checkpoint = AuditCheckpoint.Sign(10, EntryHash, CreatedAt, "audit-1", _key);

        Assert.False(checkpoint.VerifySignature(_otherKey));
    }

    [Theory]
    [InlineData("sequence")]
    [InlineData("entryHash")]
    [InlineData("createdAt")]
    [InlineData("keyId")]
    [InlineData("signature")]
    [InlineData("signatureLastCharacter")]
    public void VerifySignature_AnyFieldChanged_ReturnsFalse(string field)
    {
        var checkpoint = AuditCheckpoint.Sign(10, EntryHash, CreatedAt, "audit-1", _key);
        var last = checkpoint.Signature[^1];
        var changed = field switch
        {
            "sequence" => checkpoint with { Sequence = 11 },
            "entryHash" => checkpoint with { EntryHash = AuditEntry.GenesisHash },
            "createdAt" => checkpoint with { CreatedAt = CreatedAt.AddTicks(1) },
            "keyId" => checkpoint with { KeyId = "audit-2" },
            "signature" => checkpoint with { Signature = "not a signature" },
            // The last of 86 base64url characters carries 4 unused bits: a decoder that ignores them would accept this.
            _ => checkpoint with { Signature = checkpoint.Signature[..^1] + (char)(last ^ 1) },
        };

        Assert.False(changed.VerifySignature(_key));
    }

    [Fact]
    public void Sign_P384Key_Throws()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);

        Assert.Throws<ArgumentException>(() => AuditCheckpoint.Sign(10, EntryHash, CreatedAt, "audit-1", p384));
    }

    [Fact]
    public void Sign_MalformedEntryHash_Throws()
    {
        Assert.Throws<ArgumentException>(() => AuditCheckpoint.Sign(10, "abc", CreatedAt, "audit-1", _key));
    }
}
