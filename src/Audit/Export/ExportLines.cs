using System.Text.Json.Serialization;
using Holdfast.Audit.Chain;

namespace Holdfast.Audit.Export;

/// <summary>Line 1 of an export. <see cref="PublicKey"/> and <see cref="CheckpointKeys"/> are SubjectPublicKeyInfo, base64.</summary>
internal sealed record ExportHeader
{
    [JsonPropertyName("format")]
    public required string Format { get; init; }

    [JsonPropertyName("version")]
    public required int Version { get; init; }

    [JsonPropertyName("exportedAt")]
    public required DateTimeOffset ExportedAt { get; init; }

    [JsonPropertyName("keyId")]
    public required string KeyId { get; init; }

    [JsonPropertyName("publicKey")]
    public required string PublicKey { get; init; }

    [JsonPropertyName("firstSequence")]
    public long? FirstSequence { get; init; }

    [JsonPropertyName("lastSequence")]
    public long? LastSequence { get; init; }

    [JsonPropertyName("checkpointKeys")]
    public Dictionary<string, string>? CheckpointKeys { get; init; }
}

/// <summary>One anchor, entry or checkpoint line: exactly one member is set.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record ExportRecord
{
    [JsonPropertyName("anchor")]
    public AuditCheckpoint? Anchor { get; init; }

    [JsonPropertyName("entry")]
    public AuditEntry? Entry { get; init; }

    [JsonPropertyName("checkpoint")]
    public AuditCheckpoint? Checkpoint { get; init; }
}

/// <summary>The last line: the SHA-256 of every byte before it and the signature over that hash.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record ExportTrailer
{
    [JsonPropertyName("sha256")]
    public required string Sha256 { get; init; }

    [JsonPropertyName("signature")]
    public required string Signature { get; init; }

    [JsonPropertyName("keyId")]
    public required string KeyId { get; init; }

    /// <summary>The bytes the trailer's signature is made over: the RFC 8785 object {keyId, purpose, sha256}.</summary>
    public static byte[] SignedBytes(string sha256, string keyId) => new CanonicalJson()
        .Add("keyId", keyId)
        .Add("purpose", AuditExport.SignaturePurpose)
        .Add("sha256", sha256)
        .ToUtf8Bytes();
}
