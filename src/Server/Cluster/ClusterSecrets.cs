using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Identity.Certificates;
using Holdfast.Providers.Framework;
using Holdfast.Server.Audit;
using Holdfast.Server.Bootstrap;
using Holdfast.State;

namespace Holdfast.Server.Cluster;

/// <summary>
/// The material every replica of a cluster shares, kept in the store under <c>/cluster/secrets/{name}</c>, each value
/// sealed by <see cref="SecretBox"/> under the cluster token: <c>ca</c> (certificate and key), <c>signing-keys</c> (the
/// token-signing ring), <c>audit-keys</c> (the activity log's checkpoint keys) and <c>admin</c> (the bootstrap admin
/// credential). The first replica to start publishes a fresh set in one transaction guarded by the absence of all of
/// them and of <c>/bootstrap</c>; a replica that loses that race reads and adopts the winner's.
/// </summary>
public static class ClusterSecrets
{
    public const string Prefix = "/cluster/secrets/";
    public const string CaKey = Prefix + "ca";
    public const string SigningKeysKey = Prefix + "signing-keys";
    public const string AuditKeysKey = Prefix + "audit-keys";
    public const string AdminKey = Prefix + "admin";

    private static readonly string[] AllKeys = [CaKey, SigningKeysKey, AuditKeysKey, AdminKey];

    /// <summary>
    /// Publishes a single-node install's material (its data directory's CA, token-signing keys, checkpoint keys and
    /// admin credential) into a store that holds no cluster secrets yet, so replicas started on that store with the same
    /// cluster token carry on that install's identity (<c>holdfast restore --data-dir</c> calls this after restoring its
    /// backup). <see cref="StartupException"/> when the data directory lacks any of them, when its admin credential is
    /// not the one the store's <c>/bootstrap</c> names, or when the store already holds cluster secrets.
    /// </summary>
    public static async Task PublishFromDataDirectoryAsync(IStateStore store, DataDirectory dataDirectory, ClusterToken clusterToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(dataDirectory);
        ArgumentNullException.ThrowIfNull(clusterToken);
        if (!await TryPublishAsync(store, dataDirectory, new SecretBox(clusterToken), cancellationToken).ConfigureAwait(false))
        {
            throw new StartupException($"The store already holds cluster secrets ({Prefix}); they are published only into a store without them.");
        }
    }

    /// <summary>
    /// The cluster's material: read and decrypted when published, else a fresh set published now (exactly one of
    /// replicas starting together wins; the others adopt its set). <see cref="StartupException"/> when the token does
    /// not open what is stored, or the store holds an install (<c>/bootstrap</c>) but no cluster secrets.
    /// </summary>
    /// <remarks>
    /// A store from before cluster secrets (a single replica on etcd, its material in <paramref name="dataDirectory"/>)
    /// is upgraded: when the directory holds that install's complete material, it is published first.
    /// </remarks>
    internal static async Task<ClusterMaterial> EnsureAsync(IStateStore store, SecretBox box, DataDirectory? dataDirectory, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var page = await store.RangeAsync(new RangeRequest(Prefix), cancellationToken).ConfigureAwait(false);
            var found = page.Items.Where(kv => AllKeys.Contains(kv.Key, StringComparer.Ordinal)).ToDictionary(kv => kv.Key, StringComparer.Ordinal);
            if (found.Count == AllKeys.Length)
            {
                return Decode(found, box) with { Revision = page.Revision };
            }

            if (found.Count > 0)
            {
                throw new StartupException($"The store holds only part of the cluster secrets (missing {string.Join(", ", AllKeys.Where(k => !found.ContainsKey(k)))}).");
            }

            var candidate = ClusterMaterial.CreateNew(timeProvider.GetUtcNow());
            var result = await store.TxnAsync(
                new TxnRequest([.. AllKeys.Select(Compare.Absent), Compare.Absent(ResourceKeys.BootstrapKey)], Puts(candidate, box)),
                cancellationToken).ConfigureAwait(false);
            if (result.Succeeded)
            {
                return candidate with { Revision = result.Revision, SigningKeysModRevision = result.Revision };
            }

            // Lost the race (read the winner's next), unless the store holds an install whose secrets were never published.
            if (await store.GetAsync(CaKey, cancellationToken).ConfigureAwait(false) is null
                && await store.GetAsync(ResourceKeys.BootstrapKey, cancellationToken).ConfigureAwait(false) is not null)
            {
                if (dataDirectory is null || !HoldsInstall(dataDirectory))
                {
                    throw new StartupException(
                        $"The store holds an install (/bootstrap) but no cluster secrets ({Prefix}): start first the replica whose data directory holds that install, or publish it with 'holdfast restore --data-dir DIR --cluster-token-file FILE'.");
                }

                await TryPublishAsync(store, dataDirectory, box, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (attempt == 3)
            {
                throw new StartupException($"The cluster secrets ({Prefix}) could be neither published nor read.");
            }
        }
    }

    /// <summary>
    /// Readies a replica's data directory: the cluster CA's certificate at <c>tls/ca.pem</c> (clients trust it) and
    /// <c>admin-credentials.json</c> with the shared admin credential. The CA key is not written. Refuses a directory
    /// holding another CA's key (a single-node install's), which this would otherwise leave inconsistent.
    /// </summary>
    internal static void PrepareDataDirectory(DataDirectory dataDirectory, ClusterMaterial material, HoldfastServerOptions options)
    {
        using var clusterCa = X509Certificate2.CreateFromPem(material.CaCertificatePem);
        var localCa = File.Exists(dataDirectory.CaCertificatePath) ? File.ReadAllText(dataDirectory.CaCertificatePath) : null;
        var sameCa = localCa is not null && SameCertificate(localCa, clusterCa);
        if (File.Exists(dataDirectory.CaKeyPath) && !sameCa)
        {
            throw new StartupException(
                $"The data directory '{dataDirectory.Root}' holds a CA key (tls/ca-key.pem) that is not this cluster's: start each replica on its own new --data-dir (a single-node install moves with 'holdfast backup' and 'holdfast restore --data-dir').");
        }

        if (!sameCa)
        {
            SecureFiles.WriteAtomic(dataDirectory.CaCertificatePath, material.CaCertificatePem, isPrivate: false);
        }

        AdminCredentials? existing = null;
        try
        {
            existing = File.Exists(dataDirectory.AdminCredentialsPath) ? AdminCredentials.Load(dataDirectory.AdminCredentialsPath) : null;
        }
        catch (JsonException)
        {
            // Rewritten below from the cluster's credential.
        }

        var admin = material.Admin;
        if (existing is null || existing.TenantId != admin.TenantId || existing.SubscriptionId != admin.SubscriptionId || existing.ClientId != admin.ClientId
            || existing.ObjectId != admin.ObjectId || existing.ClientSecret != admin.ClientSecret)
        {
            var credentials = new AdminCredentials
            {
                TenantId = admin.TenantId,
                SubscriptionId = admin.SubscriptionId,
                ClientId = admin.ClientId,
                ObjectId = admin.ObjectId,
                ClientSecret = admin.ClientSecret,
                Endpoint = options.ResolvedEndpoint.ToString(),
                Audience = options.Audience,
                CaCertificatePath = dataDirectory.CaCertificatePath,
                Location = options.Location,
            };
            SecureFiles.WriteAtomic(dataDirectory.AdminCredentialsPath, credentials.ToJson(), isPrivate: true);
        }
    }

    /// <summary>Publishes the directory's material unless the store holds secrets already (false); refuses another install's directory.</summary>
    private static async Task<bool> TryPublishAsync(IStateStore store, DataDirectory dataDirectory, SecretBox box, CancellationToken cancellationToken)
    {
        var material = ReadDataDirectory(dataDirectory);
        if (await store.GetAsync(ResourceKeys.BootstrapKey, cancellationToken).ConfigureAwait(false) is { } bootstrap
            && JsonNode.Parse(bootstrap.Value.Span)?["adminAppId"]?.GetValue<string>() is { } adminAppId
            && !string.Equals(adminAppId, material.Admin.ClientId, StringComparison.OrdinalIgnoreCase))
        {
            throw new StartupException($"The data directory '{dataDirectory.Root}' is not this store's install: its admin credential is not the bootstrap admin '/bootstrap' names.");
        }

        var result = await store.TxnAsync(new TxnRequest([.. AllKeys.Select(Compare.Absent)], Puts(material, box)), cancellationToken).ConfigureAwait(false);
        return result.Succeeded;
    }

    private static bool HoldsInstall(DataDirectory dataDirectory) => MissingInstallFiles(dataDirectory).Count == 0;

    private static List<string> MissingInstallFiles(DataDirectory dataDirectory) =>
        new[] { dataDirectory.CaCertificatePath, dataDirectory.CaKeyPath, Path.Combine(dataDirectory.KeysDirectory, "active"), Path.Combine(AuditSigningKeys.DirectoryOf(dataDirectory.Root), "active"), dataDirectory.AdminCredentialsPath }
            .Where(path => !File.Exists(path))
            .ToList();

    /// <summary>A single-node data directory's material, as it would be published (nothing is created).</summary>
    internal static ClusterMaterial ReadDataDirectory(DataDirectory dataDirectory)
    {
        var missing = MissingInstallFiles(dataDirectory);
        if (missing.Count > 0)
        {
            throw new StartupException($"The data directory '{dataDirectory.Root}' is not a complete install (missing {string.Join(", ", missing)}).");
        }

        string caCertificatePem = File.ReadAllText(dataDirectory.CaCertificatePath), caKeyPem = File.ReadAllText(dataDirectory.CaKeyPath);
        using (CertificateAuthority.FromPem(caCertificatePem, caKeyPem))
        {
            // Proves the pair loads before it is published.
        }

        var signingKeys = dataDirectory.LoadOrCreateSigningKeys();
        var ring = new SigningKeyRing(signingKeys[0].KeyId, [.. signingKeys.Select(k => new SigningKeyEntry(k.KeyId, k.ExportPrivateKeyPem(), k == signingKeys[0] ? null : dataDirectory.SigningKeyRetiredAt(k.KeyId)))]);
        foreach (var key in signingKeys)
        {
            key.Dispose();
        }

        using var audit = AuditSigningKeys.Load(dataDirectory.Root, withSigner: true);
        var auditKeys = audit.KeyIds.Order(StringComparer.Ordinal)
            .Select(id => new AuditKeyEntry(id, id == audit.ActiveKeyId ? audit.Signer!.ExportPkcs8PrivateKeyPem() : null, audit.Find(id)!.ExportSubjectPublicKeyInfoPem()))
            .ToList();
        var credentials = AdminCredentials.Load(dataDirectory.AdminCredentialsPath);
        return new ClusterMaterial(
            caCertificatePem,
            caKeyPem,
            ring,
            audit.ActiveKeyId,
            auditKeys,
            new AdminSecret(credentials.TenantId, credentials.SubscriptionId, credentials.ClientId, credentials.ObjectId, credentials.ClientSecret));
    }

    internal static byte[] Seal(SecretBox box, string key, JsonNode value) => box.Seal(key, Encoding.UTF8.GetBytes(value.ToJsonString()));

    /// <summary>Opens one stored secret; <see cref="StartupException"/> with the reason when it does not open.</summary>
    internal static JsonNode Open(SecretBox box, string key, ReadOnlyMemory<byte> value)
    {
        try
        {
            return JsonNode.Parse(box.Open(key, value.Span)) ?? throw new FormatException("empty");
        }
        catch (CryptographicException)
        {
            throw new StartupException(
                $"The cluster token does not decrypt '{key}' in the store: the token (--cluster-token-file or {ClusterToken.EnvironmentVariable}) is not this cluster's, or the stored value was altered.");
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            throw new StartupException($"'{key}' in the store decrypts but is malformed: {ex.Message}");
        }
    }

    private static ClusterMaterial Decode(Dictionary<string, KeyValue> found, SecretBox box)
    {
        var ca = Open(box, CaKey, found[CaKey].Value);
        var signingKeys = Open(box, SigningKeysKey, found[SigningKeysKey].Value);
        var audit = Open(box, AuditKeysKey, found[AuditKeysKey].Value);
        var admin = Open(box, AdminKey, found[AdminKey].Value);
        try
        {
            return ClusterMaterial.FromJson(ca, signingKeys, audit, admin) with { SigningKeysModRevision = found[SigningKeysKey].ModRevision };
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or NullReferenceException)
        {
            throw new StartupException($"The cluster secrets ({Prefix}) decrypt but are malformed: {ex.Message}");
        }
    }

    private static TxnOp[] Puts(ClusterMaterial material, SecretBox box) =>
    [
        TxnOp.Put(CaKey, Seal(box, CaKey, material.CaToJson())),
        TxnOp.Put(SigningKeysKey, Seal(box, SigningKeysKey, material.SigningKeys.ToJson())),
        TxnOp.Put(AuditKeysKey, Seal(box, AuditKeysKey, material.AuditToJson())),
        TxnOp.Put(AdminKey, Seal(box, AdminKey, material.AdminToJson())),
    ];

    private static bool SameCertificate(string pem, X509Certificate2 certificate)
    {
        try
        {
            using var local = X509Certificate2.CreateFromPem(pem);
            return local.RawData.AsSpan().SequenceEqual(certificate.RawData);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
