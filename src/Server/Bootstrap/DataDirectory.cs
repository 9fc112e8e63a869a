using System.Net;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Identity.Certificates;
using Holdfast.Identity.Tokens;

namespace Holdfast.Server.Bootstrap;

/// <summary>
/// The on-disk layout of one control plane's data directory. The first start creates the local CA and server
/// certificate, the token-signing key and (via <see cref="BootstrapSeeder"/>) the admin credentials; later starts
/// reuse them. Private keys are written 0600.
/// <code>
/// {data}/tls/ca.pem, ca-key.pem, server.pem, server-key.pem
/// {data}/keys/signing-{kid}.pem, keys/active, keys/signing-{kid}.retired (when a rotation retired that key)
/// {data}/admin-credentials.json
/// {data}/state.db (the SQLite store)
/// </code>
/// </summary>
public sealed class DataDirectory
{
    private DataDirectory(string root)
    {
        Root = root;
    }

    public string Root { get; }

    public string TlsDirectory => Path.Combine(Root, "tls");

    public string CaCertificatePath => Path.Combine(TlsDirectory, "ca.pem");

    /// <summary>The CA's private key; never written for a replica of a cluster (the CA lives in the store).</summary>
    public string CaKeyPath => Path.Combine(TlsDirectory, "ca-key.pem");

    public string KeysDirectory => Path.Combine(Root, "keys");

    public string StatePath => Path.Combine(Root, "state.db");

    public string AdminCredentialsPath => Path.Combine(Root, AdminCredentials.FileName);

    /// <summary>Creates the directory if needed and proves it is writable; otherwise a clear <see cref="StartupException"/>.</summary>
    public static DataDirectory Open(string path)
    {
        string root;
        try
        {
            root = Path.GetFullPath(path);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new StartupException($"The data directory '{path}' is not a valid path: {ex.Message}");
        }

        if (File.Exists(root))
        {
            throw new StartupException($"The data directory '{root}' is a file, not a directory.");
        }

        try
        {
            Directory.CreateDirectory(root);
            Directory.CreateDirectory(Path.Combine(root, "tls"));
            Directory.CreateDirectory(Path.Combine(root, "keys"));
            var probe = Path.Combine(root, ".write-probe-" + Environment.ProcessId);
            File.WriteAllText(probe, "ok");
            File.Delete(probe);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw new StartupException($"The data directory '{root}' is not usable: {ex.Message}");
        }

        return new DataDirectory(root);
    }

    /// <summary>Loads the CA, creating it on first start.</summary>
    public CertificateAuthority LoadOrCreateCertificateAuthority(TimeProvider timeProvider)
    {
        var keyPath = Path.Combine(TlsDirectory, "ca-key.pem");
        if (File.Exists(CaCertificatePath) && File.Exists(keyPath))
        {
            return CertificateAuthority.FromPem(File.ReadAllText(CaCertificatePath), File.ReadAllText(keyPath));
        }

        var ca = CertificateAuthority.Create("Holdfast Local CA " + Guid.NewGuid().ToString("N")[..8], timeProvider.GetUtcNow(), TimeSpan.FromDays(3650));
        SecureFiles.WriteAtomic(keyPath, ca.ExportPrivateKeyPem(), isPrivate: true);
        SecureFiles.WriteAtomic(CaCertificatePath, ca.ExportCertificatePem(), isPrivate: false);
        return ca;
    }

    /// <summary>
    /// Loads the TLS server certificate, issuing a new one when it is missing, within 30 days of expiry, or does not
    /// cover a name the server must answer to.
    /// </summary>
    public X509Certificate2 LoadOrIssueServerCertificate(CertificateAuthority ca, IReadOnlyCollection<string> dnsNames, IReadOnlyCollection<IPAddress> addresses, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(ca);
        var certPath = Path.Combine(TlsDirectory, "server.pem");
        var keyPath = Path.Combine(TlsDirectory, "server-key.pem");
        var now = timeProvider.GetUtcNow();
        if (File.Exists(certPath) && File.Exists(keyPath))
        {
            var existing = X509Certificate2.CreateFromPemFile(certPath, keyPath);
            if (existing.NotAfter > now.AddDays(30).UtcDateTime && Covers(existing, dnsNames, addresses) && ca.Verifies(existing, now))
            {
                return existing;
            }

            existing.Dispose();
        }

        var issued = ca.IssueServerCertificate(dnsNames, addresses, now, TimeSpan.FromDays(825));
        SecureFiles.WriteAtomic(keyPath, issued.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem(), isPrivate: true);
        SecureFiles.WriteAtomic(certPath, issued.ExportCertificatePem(), isPrivate: false);
        return issued;
    }

    /// <summary>Loads every token-signing key; the one named in <c>keys/active</c> signs. Creates one on first start.</summary>
    public IReadOnlyList<SigningKey> LoadOrCreateSigningKeys()
    {
        var activePath = Path.Combine(KeysDirectory, "active");
        if (!File.Exists(activePath))
        {
            var key = SigningKey.Create();
            SecureFiles.WriteAtomic(Path.Combine(KeysDirectory, $"signing-{key.KeyId}.pem"), key.ExportPrivateKeyPem(), isPrivate: true);
            SecureFiles.WriteAtomic(activePath, key.KeyId, isPrivate: false);
        }

        var activeId = File.ReadAllText(activePath).Trim();
        var keys = new List<SigningKey>();
        foreach (var file in Directory.EnumerateFiles(KeysDirectory, "signing-*.pem").Order(StringComparer.Ordinal))
        {
            var keyId = Path.GetFileNameWithoutExtension(file)["signing-".Length..];
            keys.Add(SigningKey.FromPem(keyId, File.ReadAllText(file)));
        }

        var active = keys.FindIndex(k => k.KeyId == activeId);
        if (active < 0)
        {
            throw new StartupException($"The active signing key '{activeId}' named in '{activePath}' is missing from '{KeysDirectory}'.");
        }

        // The signer goes first; the rest stay valid for verification (rotation overlap).
        var signer = keys[active];
        keys.RemoveAt(active);
        keys.Insert(0, signer);
        return keys;
    }

    /// <summary>
    /// Makes a new signing key active and marks the previous one retired now (<c>signing-{kid}.retired</c>); the old key
    /// file stays so tokens it signed keep validating until <see cref="PruneSigningKeys"/> removes it. The new key is
    /// written before <c>keys/active</c> names it, so a crash in between leaves the old key active and nothing lost.
    /// </summary>
    public SigningKey RotateSigningKey(DateTimeOffset now)
    {
        var activePath = Path.Combine(KeysDirectory, "active");
        var previous = File.Exists(activePath) ? File.ReadAllText(activePath).Trim() : null;
        var key = SigningKey.Create();
        SecureFiles.WriteAtomic(Path.Combine(KeysDirectory, $"signing-{key.KeyId}.pem"), key.ExportPrivateKeyPem(), isPrivate: true);
        if (previous is not null)
        {
            SecureFiles.WriteAtomic(RetiredMarker(previous), now.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture), isPrivate: false);
        }

        SecureFiles.WriteAtomic(activePath, key.KeyId, isPrivate: false);
        return key;
    }

    /// <summary>
    /// Deletes retired signing keys whose retirement is older than <paramref name="retention"/> (the token lifetime plus
    /// clock skew: no token they signed can still validate). The active key is never deleted. Returns the removed key ids.
    /// </summary>
    public IReadOnlyList<string> PruneSigningKeys(DateTimeOffset now, TimeSpan retention)
    {
        var activePath = Path.Combine(KeysDirectory, "active");
        var active = File.Exists(activePath) ? File.ReadAllText(activePath).Trim() : null;
        var removed = new List<string>();
        foreach (var marker in Directory.EnumerateFiles(KeysDirectory, "signing-*.retired"))
        {
            var keyId = Path.GetFileNameWithoutExtension(marker)["signing-".Length..];
            if (keyId == active)
            {
                continue;
            }

            if (!DateTimeOffset.TryParse(File.ReadAllText(marker).Trim(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var retiredAt)
                || now - retiredAt <= retention)
            {
                continue;
            }

            File.Delete(Path.Combine(KeysDirectory, $"signing-{keyId}.pem"));
            File.Delete(marker);
            removed.Add(keyId);
        }

        return removed;
    }

    /// <summary>When the key was retired by a rotation, or null while it is active or was never rotated out.</summary>
    public DateTimeOffset? SigningKeyRetiredAt(string keyId)
    {
        var marker = RetiredMarker(keyId);
        return File.Exists(marker) && DateTimeOffset.TryParse(File.ReadAllText(marker).Trim(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at) ? at : null;
    }

    private string RetiredMarker(string keyId) => Path.Combine(KeysDirectory, $"signing-{keyId}.retired");

    private static bool Covers(X509Certificate2 certificate, IReadOnlyCollection<string> dnsNames, IReadOnlyCollection<IPAddress> addresses)
    {
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is null)
        {
            return false;
        }

        var names = san.EnumerateDnsNames().ToHashSet(StringComparer.OrdinalIgnoreCase);
        var ips = san.EnumerateIPAddresses().ToHashSet();
        return dnsNames.All(names.Contains) && addresses.All(ips.Contains);
    }
}
