using System.Security.Cryptography;
using Holdfast.Server.Bootstrap;

namespace Holdfast.Server.Audit;

/// <summary>
/// The activity log's own ECDSA P-256 keys under <c>{data}/audit/</c>, apart from the token-signing keys so that one
/// can rotate or leak without the other: <c>checkpoint-{kid}.pem</c> (private, 0600), <c>checkpoint-{kid}.pub.pem</c>
/// (the public key auditors pin) and <c>active</c> (the signer). Older keys stay for verifying older checkpoints.
/// The key id is the first 16 hex digits of the SHA-256 of the public key (SubjectPublicKeyInfo).
/// </summary>
public sealed class AuditSigningKeys : IDisposable
{
    private readonly Dictionary<string, ECDsa> _publicKeys;

    private AuditSigningKeys(string activeKeyId, ECDsa? signer, Dictionary<string, ECDsa> publicKeys)
    {
        ActiveKeyId = activeKeyId;
        Signer = signer;
        _publicKeys = publicKeys;
    }

    public string ActiveKeyId { get; }

    /// <summary>The active private key; null when loaded for verification only.</summary>
    public ECDsa? Signer { get; }

    public static string DirectoryOf(string dataDirectory) => Path.Combine(dataDirectory, "audit");

    public static string PublicKeyPath(string dataDirectory, string keyId) => Path.Combine(DirectoryOf(dataDirectory), $"checkpoint-{keyId}.pub.pem");

    public static string KeyIdOf(ECDsa key) => Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()))[..16];

    /// <summary>Loads the keys, creating the first one on first start.</summary>
    public static AuditSigningKeys LoadOrCreate(string dataDirectory)
    {
        var directory = DirectoryOf(dataDirectory);
        Directory.CreateDirectory(directory);
        var activePath = Path.Combine(directory, "active");
        if (!File.Exists(activePath))
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var keyId = KeyIdOf(key);
            SecureFiles.WriteAtomic(Path.Combine(directory, $"checkpoint-{keyId}.pem"), key.ExportPkcs8PrivateKeyPem(), isPrivate: true);
            SecureFiles.WriteAtomic(PublicKeyPath(dataDirectory, keyId), key.ExportSubjectPublicKeyInfoPem(), isPrivate: false);
            SecureFiles.WriteAtomic(activePath, keyId, isPrivate: false);
        }

        return Load(dataDirectory, withSigner: true);
    }

    /// <summary>
    /// Loads the public keys (and, with <paramref name="withSigner"/>, the active private key) without creating
    /// anything; <see cref="StartupException"/> when the directory holds no audit key.
    /// </summary>
    public static AuditSigningKeys Load(string dataDirectory, bool withSigner)
    {
        var directory = DirectoryOf(dataDirectory);
        var activePath = Path.Combine(directory, "active");
        if (!File.Exists(activePath))
        {
            throw new StartupException($"'{directory}' holds no activity-log key (no 'active' file).");
        }

        var activeId = File.ReadAllText(activePath).Trim();
        var publicKeys = new Dictionary<string, ECDsa>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(directory, "checkpoint-*.pub.pem"))
        {
            var key = ECDsa.Create();
            key.ImportFromPem(File.ReadAllText(file));
            publicKeys[KeyIdOf(key)] = key;
        }

        ECDsa? signer = null;
        if (withSigner)
        {
            var privatePath = Path.Combine(directory, $"checkpoint-{activeId}.pem");
            if (!File.Exists(privatePath))
            {
                throw new StartupException($"The active activity-log key '{activeId}' is missing from '{directory}'.");
            }

            signer = ECDsa.Create();
            signer.ImportFromPem(File.ReadAllText(privatePath));
            if (KeyIdOf(signer) != activeId)
            {
                signer.Dispose();
                throw new StartupException($"The activity-log key file for '{activeId}' holds a different key.");
            }
        }

        return new AuditSigningKeys(activeId, signer, publicKeys);
    }

    /// <summary>
    /// Keys held in memory, not in a directory (replicas of a cluster share them through the store): the active
    /// private key and the public keys of every checkpoint key (the active one's included).
    /// </summary>
    public static AuditSigningKeys FromPem(string activeKeyId, string activePrivateKeyPem, IEnumerable<string> publicKeyPems)
    {
        ArgumentNullException.ThrowIfNull(publicKeyPems);
        var signer = ECDsa.Create();
        signer.ImportFromPem(activePrivateKeyPem);
        if (KeyIdOf(signer) != activeKeyId)
        {
            signer.Dispose();
            throw new StartupException($"The activity-log key '{activeKeyId}' holds a different key.");
        }

        var publicKeys = new Dictionary<string, ECDsa>(StringComparer.Ordinal);
        foreach (var pem in publicKeyPems)
        {
            var key = ECDsa.Create();
            key.ImportFromPem(pem);
            publicKeys[KeyIdOf(key)] = key;
        }

        return new AuditSigningKeys(activeKeyId, signer, publicKeys);
    }

    /// <summary>Every checkpoint key's id (the active one's included).</summary>
    public IReadOnlyCollection<string> KeyIds => _publicKeys.Keys;

    /// <summary>The public key for a checkpoint's key id, or null when unknown.</summary>
    public ECDsa? Find(string keyId) => _publicKeys.GetValueOrDefault(keyId);

    public void Dispose()
    {
        Signer?.Dispose();
        foreach (var key in _publicKeys.Values)
        {
            key.Dispose();
        }
    }
}
