using System.Security.Cryptography;
using Holdfast.Audit.Verification;

namespace Holdfast.Audit.Export;

/// <summary>
/// What <see cref="AuditExport.ReadAsync"/> found: a valid export's content and keys, or why the file was refused. A
/// valid file is only as trustworthy as the key that signed it: see <see cref="IsSignerPinned"/>.
/// </summary>
public sealed record AuditExportReadResult
{
    public required AuditExportProblem Problem { get; init; }

    /// <summary>What was found, in plain words.</summary>
    public required string Message { get; init; }

    /// <summary>The entries, checkpoints and anchor; null unless the file is valid.</summary>
    public AuditExportContent? Content { get; init; }

    public string? SignerKeyId { get; init; }

    /// <summary>The signer's public key as the header carries it: SubjectPublicKeyInfo, base64.</summary>
    public string? SignerPublicKey { get; init; }

    /// <summary>
    /// True when the caller pinned the signing key and the file matched it. When false, a valid file only proves it
    /// is internally consistent: whoever rewrote it could have embedded their own key and signed again.
    /// </summary>
    public bool IsSignerPinned { get; init; }

    public DateTimeOffset? ExportedAt { get; init; }

    /// <summary>
    /// Every public key the file carries (the signer's and the checkpoints'), by key id, as SubjectPublicKeyInfo in
    /// base64. The trailer signature covers them, so they are as trustworthy as the signer.
    /// </summary>
    public IReadOnlyDictionary<string, string> PublicKeys { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    public bool IsValid => Problem == AuditExportProblem.None;

    /// <summary>
    /// Runs <see cref="AuditVerifier"/> over the content. With <paramref name="publicKeyById"/> null it uses the keys the
    /// file carries, which is sound when the signer was pinned; otherwise pass the site's own keys.
    /// </summary>
    public AuditVerification VerifyLog(Func<string, ECDsa?>? publicKeyById = null)
    {
        if (Content is null)
        {
            throw new InvalidOperationException("The export is not valid (" + Problem + "); there is no log to verify.");
        }

        if (publicKeyById is not null)
        {
            return AuditVerifier.Verify(Content.Entries, Content.Checkpoints, publicKeyById, Content.Anchor);
        }

        var imported = new Dictionary<string, ECDsa>(StringComparer.Ordinal);
        try
        {
            return AuditVerifier.Verify(Content.Entries, Content.Checkpoints, FindEmbedded, Content.Anchor);
        }
        finally
        {
            foreach (var key in imported.Values)
            {
                key.Dispose();
            }
        }

        ECDsa? FindEmbedded(string keyId)
        {
            if (imported.TryGetValue(keyId, out var key))
            {
                return key;
            }

            if (!PublicKeys.TryGetValue(keyId, out var spki))
            {
                return null;
            }

            key = AuditExport.ImportPublicKey(spki);
            if (key is not null)
            {
                imported[keyId] = key;
            }

            return key;
        }
    }
}
