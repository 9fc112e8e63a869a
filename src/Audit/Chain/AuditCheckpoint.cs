using System.Security.Cryptography;
using System.Text.Json.Serialization;

namespace Holdfast.Audit.Chain;

/// <summary>
/// A signed statement that the log's entry <see cref="Sequence"/> has hash <see cref="EntryHash"/>. Because each entry's
/// hash commits to all entries before it, a checkpoint fixes the whole chain up to <see cref="Sequence"/>: whoever
/// rewrites those entries, even recomputing every hash, cannot make them match without the signing key.
/// </summary>
/// <remarks>
/// <para>
/// A checkpoint is also the retention anchor: once it is stored as the anchor, entries up to and including its
/// <see cref="Sequence"/> may be deleted, and verification starts from it (its <see cref="EntryHash"/> becomes the
/// expected <see cref="AuditEntry.PreviousHash"/> of entry <see cref="Sequence"/> + 1).
/// </para>
/// <para>
/// Signed bytes (<see cref="GetSignedBytes"/>): the RFC 8785 (JCS) object with members <c>createdAt</c> (UTC, seven
/// fractional digits, <c>Z</c>), <c>entryHash</c>, <c>keyId</c>, <c>purpose</c> = <c>holdfast-audit-checkpoint/1</c>
/// and <c>sequence</c>. The <c>purpose</c> member keeps a checkpoint signature from being passed off as any other
/// statement made with the same key. The signature is ECDSA P-256 with SHA-256, IEEE P1363 (r‖s), base64url.
/// </para>
/// </remarks>
public sealed record AuditCheckpoint
{
    public const string Purpose = "holdfast-audit-checkpoint/1";

    /// <summary>The sequence of the entry this checkpoint covers.</summary>
    [JsonPropertyName("sequence")]
    public required long Sequence { get; init; }

    /// <summary>The <see cref="AuditEntry.Hash"/> of entry <see cref="Sequence"/>.</summary>
    [JsonPropertyName("entryHash")]
    public required string EntryHash { get; init; }

    [JsonPropertyName("createdAt")]
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Names the key that signed it, so keys can rotate while older checkpoints stay verifiable.</summary>
    [JsonPropertyName("keyId")]
    public required string KeyId { get; init; }

    [JsonPropertyName("signature")]
    public required string Signature { get; init; }

    /// <summary>Signs that entry <paramref name="sequence"/> has hash <paramref name="entryHash"/>; <paramref name="key"/> must be a P-256 private key.</summary>
    public static AuditCheckpoint Sign(long sequence, string entryHash, DateTimeOffset createdAt, string keyId, ECDsa key)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sequence, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sequence, AuditEntry.MaxSequence);
        if (!HashText.IsWellFormed(entryHash))
        {
            throw new ArgumentException("The entry hash must be 64 lowercase hexadecimal characters.", nameof(entryHash));
        }

        ArgumentException.ThrowIfNullOrEmpty(keyId);
        EcdsaSignature.RequireP256(key, nameof(key));
        var unsigned = new AuditCheckpoint
        {
            Sequence = sequence,
            EntryHash = entryHash,
            CreatedAt = createdAt.ToUniversalTime(),
            KeyId = keyId,
            Signature = string.Empty,
        };
        return unsigned with { Signature = EcdsaSignature.Sign(key, unsigned.GetSignedBytes()) };
    }

    /// <summary>The bytes <see cref="Signature"/> is made over (see the type's remarks).</summary>
    public byte[] GetSignedBytes() => new CanonicalJson()
        .Add("createdAt", CreatedAt)
        .Add("entryHash", EntryHash)
        .Add("keyId", KeyId)
        .Add("purpose", Purpose)
        .Add("sequence", Sequence)
        .ToUtf8Bytes();

    /// <summary>
    /// Whether <see cref="Signature"/> is <paramref name="publicKey"/>'s signature over this checkpoint. It says nothing
    /// about the log; <see cref="Verification.AuditVerifier"/> compares <see cref="EntryHash"/> with the entry.
    /// </summary>
    public bool VerifySignature(ECDsa publicKey)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        return Sequence is >= 1 and <= AuditEntry.MaxSequence && EcdsaSignature.Verify(publicKey, GetSignedBytes(), Signature);
    }
}
