using System.Security.Cryptography;
using System.Text.Json;
using Holdfast.Audit.Chain;

namespace Holdfast.Audit.Export;

/// <summary>
/// A self-contained, signed copy of the activity log for auditors and for keeping checkpoints off the machine: one
/// JSON Lines file (UTF-8, each line ending in <c>\n</c>) that verifies offline.
/// </summary>
/// <remarks>
/// <para>Layout, one JSON object per line:</para>
/// <list type="number">
/// <item>header: <c>{"format":"holdfast-audit-export","version":1,"exportedAt","keyId","publicKey","firstSequence","lastSequence","checkpointKeys"}</c>
/// — <c>publicKey</c> is the signer's SubjectPublicKeyInfo (base64), <c>checkpointKeys</c> maps every other key id
/// the checkpoints use to its SubjectPublicKeyInfo;</item>
/// <item><c>{"anchor":checkpoint}</c> when the entries start after a retention anchor;</item>
/// <item><c>{"entry":entry}</c> per entry, in stored order;</item>
/// <item><c>{"checkpoint":checkpoint}</c> per checkpoint;</item>
/// <item>trailer: <c>{"sha256","signature","keyId"}</c> — <c>sha256</c> is the lowercase hex SHA-256 of every byte
/// before the trailer line; <c>signature</c> is ECDSA P-256/SHA-256 (IEEE P1363, base64url) over the RFC 8785 object
/// <c>{"keyId","purpose":"holdfast-audit-export/1","sha256"}</c>, so the signature commits to the hash and cannot
/// be replayed as a checkpoint signature made with the same key.</item>
/// </list>
/// <para>
/// Trust: the embedded key lets the file verify on its own, but that proves only internal consistency — anyone who
/// rewrites the file can embed their own key and sign again. An auditor pins the site's key
/// (<see cref="ReadAsync"/>'s <c>pinnedKey</c>), obtained out of band. With the signer pinned, the embedded
/// checkpoint keys are covered by the site's signature too.
/// </para>
/// </remarks>
public static class AuditExport
{
    public const string Format = "holdfast-audit-export";
    public const int Version = 1;
    public const string SignaturePurpose = "holdfast-audit-export/1";

    /// <summary>The longest line <see cref="ReadAsync"/> accepts (4 MiB); a longer one is <see cref="AuditExportProblem.Malformed"/>.</summary>
    public const int MaxLineBytes = 4 * 1024 * 1024;

    private static readonly byte[] Newline = [(byte)'\n'];

    /// <summary>
    /// Writes <paramref name="content"/> as a signed export. The checkpoints' public keys come from
    /// <paramref name="publicKeyById"/> (an unknown key id is left out, and verifying the file then reports it).
    /// Nothing is checked: a damaged log exports as it is, so the file can serve as evidence.
    /// </summary>
    public static async Task WriteAsync(
        Stream destination,
        AuditExportContent content,
        string keyId,
        ECDsa signingKey,
        Func<string, ECDsa?> publicKeyById,
        DateTimeOffset exportedAt,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(keyId);
        EcdsaSignature.RequireP256(signingKey, nameof(signingKey));
        ArgumentNullException.ThrowIfNull(publicKeyById);

        var signerKey = Convert.ToBase64String(signingKey.ExportSubjectPublicKeyInfo());
        var checkpointKeys = new Dictionary<string, string>(StringComparer.Ordinal);
        var checkpointKeyIds = content.Checkpoints.Select(c => c.KeyId).Append(content.Anchor?.KeyId);
        foreach (var id in checkpointKeyIds.OfType<string>().Where(id => id != keyId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            if (publicKeyById(id) is { } key)
            {
                checkpointKeys[id] = Convert.ToBase64String(key.ExportSubjectPublicKeyInfo());
            }
        }

        var header = new ExportHeader
        {
            Format = Format,
            Version = Version,
            ExportedAt = exportedAt.ToUniversalTime(),
            KeyId = keyId,
            PublicKey = signerKey,
            FirstSequence = content.Entries.Count > 0 ? content.Entries[0].Sequence : null,
            LastSequence = content.Entries.Count > 0 ? content.Entries[^1].Sequence : null,
            CheckpointKeys = checkpointKeys.Count > 0 ? checkpointKeys : null,
        };

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await WriteLineAsync(JsonSerializer.SerializeToUtf8Bytes(header, AuditJsonContext.Default.ExportHeader));
        if (content.Anchor is not null)
        {
            await WriteRecordAsync(new ExportRecord { Anchor = content.Anchor });
        }

        foreach (var entry in content.Entries)
        {
            await WriteRecordAsync(new ExportRecord { Entry = entry });
        }

        foreach (var checkpoint in content.Checkpoints)
        {
            await WriteRecordAsync(new ExportRecord { Checkpoint = checkpoint });
        }

        var sha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
        var trailer = new ExportTrailer
        {
            Sha256 = sha256,
            Signature = EcdsaSignature.Sign(signingKey, ExportTrailer.SignedBytes(sha256, keyId)),
            KeyId = keyId,
        };
        await destination.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(trailer, AuditJsonContext.Default.ExportTrailer), cancellationToken);
        await destination.WriteAsync(Newline, cancellationToken);
        await destination.FlushAsync(cancellationToken);

        Task WriteRecordAsync(ExportRecord record) =>
            WriteLineAsync(JsonSerializer.SerializeToUtf8Bytes(record, AuditJsonContext.Default.ExportRecord));

        async Task WriteLineAsync(byte[] line)
        {
            hash.AppendData(line);
            hash.AppendData(Newline);
            await destination.WriteAsync(line, cancellationToken);
            await destination.WriteAsync(Newline, cancellationToken);
        }
    }

    /// <summary>
    /// Reads an export and checks its trailer: every byte before it must hash to the recorded SHA-256, and the
    /// signature must verify with <paramref name="pinnedKey"/> when given (a file signed by any other key is
    /// refused as <see cref="AuditExportProblem.UntrustedKey"/>), else with the key the header carries. It does not
    /// verify the log itself: call <see cref="AuditExportReadResult.VerifyLog"/>.
    /// </summary>
    public static async Task<AuditExportReadResult> ReadAsync(Stream source, ECDsa? pinnedKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var reader = new ExportLineReader(source, MaxLineBytes);
        var parsed = new ParsedExport();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        // The trailer is the last line, which is not hashed: hold each line back until the next one arrives.
        byte[]? last = null;
        var lineNumber = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (last is not null)
            {
                hash.AppendData(last);
                hash.AppendData(Newline);
                parsed.Add(last, lineNumber);
            }

            last = line;
            lineNumber++;
        }

        if (reader.LineTooLong)
        {
            return Refuse(AuditExportProblem.Malformed, $"Line {lineNumber + 1} is longer than {MaxLineBytes} bytes; this is not a Holdfast audit export.");
        }

        if (last is null)
        {
            return Refuse(AuditExportProblem.Malformed, "The file is empty; it is not a Holdfast audit export.");
        }

        if (TryParse(last, AuditJsonContext.Default.ExportTrailer) is not { } trailer)
        {
            return LooksLikeRecordOrHeader(last)
                ? Refuse(AuditExportProblem.Truncated, $"The file ends after line {lineNumber} without its signed trailer: it was cut short.")
                : Refuse(AuditExportProblem.Altered, $"The last line (line {lineNumber}) is not a valid signed trailer: the file was altered or cut short.");
        }

        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (!string.Equals(actual, trailer.Sha256, StringComparison.Ordinal))
        {
            return Refuse(
                AuditExportProblem.Altered,
                $"The file was altered after it was signed: its content hashes to {HashText.Short(actual)}, but the signed trailer records {HashText.Short(trailer.Sha256)}.");
        }

        if (parsed.HeaderVersion is { } version && version != Version)
        {
            return Refuse(AuditExportProblem.UnsupportedVersion, $"The export has format version {version}; this version of Holdfast reads version {Version}.");
        }

        if (parsed.Header is not { } header)
        {
            return Refuse(AuditExportProblem.Malformed, "The first line is not a Holdfast audit export header.");
        }

        if (!string.Equals(trailer.KeyId, header.KeyId, StringComparison.Ordinal))
        {
            return Refuse(AuditExportProblem.BadSignature, $"The trailer names key '{trailer.KeyId}' but the header names key '{header.KeyId}'.");
        }

        using var embedded = ImportPublicKey(header.PublicKey);
        if (embedded is null)
        {
            return Refuse(AuditExportProblem.Malformed, "The header's public key is not an ECDSA P-256 SubjectPublicKeyInfo.");
        }

        if (pinnedKey is not null && !pinnedKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(Convert.FromBase64String(header.PublicKey)))
        {
            return Refuse(
                AuditExportProblem.UntrustedKey,
                $"The export is signed by key '{header.KeyId}' (public key fingerprint {Fingerprint(header.PublicKey)}), not by the pinned key (fingerprint {Fingerprint(Convert.ToBase64String(pinnedKey.ExportSubjectPublicKeyInfo()))}): refusing it.");
        }

        if (!EcdsaSignature.Verify(pinnedKey ?? embedded, ExportTrailer.SignedBytes(trailer.Sha256, trailer.KeyId), trailer.Signature))
        {
            return Refuse(
                AuditExportProblem.BadSignature,
                $"The trailer's signature does not verify with key '{header.KeyId}': the file was altered and re-hashed, or signed by another key.");
        }

        if (parsed.Error is { } error)
        {
            return Refuse(AuditExportProblem.Malformed, error);
        }

        var publicKeys = new Dictionary<string, string>(StringComparer.Ordinal) { [header.KeyId] = header.PublicKey };
        foreach (var (id, spki) in header.CheckpointKeys ?? [])
        {
            if (!publicKeys.TryAdd(id, spki) || ImportPublicKey(spki) is not { } checkpointKey)
            {
                return Refuse(AuditExportProblem.Malformed, $"The header's key '{id}' is repeated or is not an ECDSA P-256 SubjectPublicKeyInfo.");
            }

            checkpointKey.Dispose();
        }

        var entries = parsed.Entries;
        if (header.FirstSequence != (entries.Count > 0 ? entries[0].Sequence : null)
            || header.LastSequence != (entries.Count > 0 ? entries[^1].Sequence : null))
        {
            return Refuse(AuditExportProblem.Malformed, "The header's first and last sequence do not match the entries the file holds.");
        }

        return new AuditExportReadResult
        {
            Problem = AuditExportProblem.None,
            Message = $"A complete export signed by key '{header.KeyId}'{(pinnedKey is null ? " (the key it carries itself; pin the site's key to trust it)" : " (the pinned key)")}, "
                + $"holding {entries.Count} entries and {parsed.Checkpoints.Count} checkpoints.",
            Content = new AuditExportContent(entries, parsed.Checkpoints, parsed.Anchor),
            SignerKeyId = header.KeyId,
            SignerPublicKey = header.PublicKey,
            IsSignerPinned = pinnedKey is not null,
            ExportedAt = header.ExportedAt,
            PublicKeys = publicKeys,
        };
    }

    /// <summary>Imports a base64 SubjectPublicKeyInfo as an ECDSA P-256 key, or null if it is not one.</summary>
    internal static ECDsa? ImportPublicKey(string? subjectPublicKeyInfo)
    {
        if (subjectPublicKeyInfo is null)
        {
            return null;
        }

        var key = ECDsa.Create();
        try
        {
            var bytes = Convert.FromBase64String(subjectPublicKeyInfo);
            key.ImportSubjectPublicKeyInfo(bytes, out var read);
            if (read == bytes.Length && key.KeySize == 256)
            {
                return key;
            }
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            // Not base64, or not an EC public key: the caller reports the file as malformed.
        }

        key.Dispose();
        return null;
    }

    private static string Fingerprint(string subjectPublicKeyInfo) =>
        Convert.ToHexStringLower(SHA256.HashData(Convert.FromBase64String(subjectPublicKeyInfo)))[..16];

    private static AuditExportReadResult Refuse(AuditExportProblem problem, string message) => new() { Problem = problem, Message = message };

    private static T? TryParse<T>(byte[] line, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(line, typeInfo);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool LooksLikeRecordOrHeader(byte[] line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && (document.RootElement.TryGetProperty("entry", out _)
                    || document.RootElement.TryGetProperty("checkpoint", out _)
                    || document.RootElement.TryGetProperty("anchor", out _)
                    || document.RootElement.TryGetProperty("format", out _));
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The hashed lines, parsed as they stream past; the first problem is kept, not thrown.</summary>
    private sealed class ParsedExport
    {
        public ExportHeader? Header { get; private set; }

        public int? HeaderVersion { get; private set; }

        public AuditCheckpoint? Anchor { get; private set; }

        public List<AuditEntry> Entries { get; } = [];

        public List<AuditCheckpoint> Checkpoints { get; } = [];

        public string? Error { get; private set; }

        public void Add(byte[] line, int lineNumber)
        {
            if (lineNumber == 1)
            {
                ReadHeader(line);
                return;
            }

            if (Error is not null)
            {
                return;
            }

            var record = TryParse(line, AuditJsonContext.Default.ExportRecord);
            var members = record is null ? 0 : (record.Anchor is null ? 0 : 1) + (record.Entry is null ? 0 : 1) + (record.Checkpoint is null ? 0 : 1);
            if (record is null || members != 1)
            {
                Error = $"Line {lineNumber} is not an anchor, entry or checkpoint.";
            }
            else if (record.Anchor is not null)
            {
                if (Anchor is not null || Entries.Count > 0 || Checkpoints.Count > 0)
                {
                    Error = $"Line {lineNumber} is a second anchor, or an anchor after the entries.";
                }

                Anchor ??= record.Anchor;
            }
            else if (record.Entry is not null)
            {
                Entries.Add(record.Entry);
            }
            else
            {
                Checkpoints.Add(record.Checkpoint!);
            }
        }

        private void ReadHeader(byte[] line)
        {
            try
            {
                using (var document = JsonDocument.Parse(line))
                {
                    var root = document.RootElement;
                    if (root.ValueKind != JsonValueKind.Object
                        || !root.TryGetProperty("format", out var format)
                        || format.ValueKind != JsonValueKind.String
                        || !string.Equals(format.GetString(), Format, StringComparison.Ordinal))
                    {
                        return;
                    }

                    if (root.TryGetProperty("version", out var version) && version.ValueKind == JsonValueKind.Number && version.TryGetInt32(out var number))
                    {
                        HeaderVersion = number;
                    }
                }

                if (HeaderVersion == Version)
                {
                    Header = JsonSerializer.Deserialize(line, AuditJsonContext.Default.ExportHeader);
                }
            }
            catch (JsonException)
            {
                // Header stays null: the file is reported as not an export.
            }
        }
    }
}
