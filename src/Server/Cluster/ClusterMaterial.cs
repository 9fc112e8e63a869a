using System.Globalization;
using System.Text.Json.Nodes;
using Holdfast.Identity.Certificates;
using Holdfast.Identity.Tokens;
using Holdfast.Server.Audit;

namespace Holdfast.Server.Cluster;

/// <summary>One token-signing key in the shared ring; <see cref="RetiredAt"/> is set once a rotation replaced it.</summary>
internal sealed record SigningKeyEntry(string KeyId, string PrivateKeyPem, DateTimeOffset? RetiredAt)
{
    public override string ToString() => $"SigningKeyEntry {{ KeyId = {KeyId}, RetiredAt = {RetiredAt} }}";
}

/// <summary>The token-signing keys every replica uses (<c>/cluster/secrets/signing-keys</c>): the active one signs, all verify.</summary>
internal sealed record SigningKeyRing(string ActiveKeyId, IReadOnlyList<SigningKeyEntry> Keys)
{
    public static SigningKeyRing CreateNew()
    {
        using var key = SigningKey.Create();
        return new SigningKeyRing(key.KeyId, [new SigningKeyEntry(key.KeyId, key.ExportPrivateKeyPem(), null)]);
    }

    /// <summary>A new active key; the previous active key is retired now and kept for verification.</summary>
    public SigningKeyRing Rotate(DateTimeOffset now)
    {
        using var key = SigningKey.Create();
        var keys = Keys.Select(k => k.KeyId == ActiveKeyId && k.RetiredAt is null ? k with { RetiredAt = now } : k).ToList();
        keys.Add(new SigningKeyEntry(key.KeyId, key.ExportPrivateKeyPem(), null));
        return new SigningKeyRing(key.KeyId, keys);
    }

    /// <summary>Without the keys retired longer than <paramref name="retention"/> ago (never the active key); null when none is.</summary>
    public SigningKeyRing? Prune(DateTimeOffset now, TimeSpan retention)
    {
        var kept = Keys.Where(k => k.KeyId == ActiveKeyId || k.RetiredAt is not { } at || now - at <= retention).ToList();
        return kept.Count == Keys.Count ? null : this with { Keys = kept };
    }

    public JsonObject ToJson() => new()
    {
        ["active"] = ActiveKeyId,
        ["keys"] = new JsonArray([.. Keys.Select(k => (JsonNode)new JsonObject
        {
            ["kid"] = k.KeyId,
            ["key"] = k.PrivateKeyPem,
            ["retiredAt"] = k.RetiredAt?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        })]),
    };

    public static SigningKeyRing FromJson(JsonNode node)
    {
        var keys = node["keys"]!.AsArray().Select(k => new SigningKeyEntry(
            k!["kid"]!.GetValue<string>(),
            k["key"]!.GetValue<string>(),
            k["retiredAt"] is { } at ? DateTimeOffset.Parse(at.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal) : null)).ToList();
        var ring = new SigningKeyRing(node["active"]!.GetValue<string>(), keys);
        return keys.Any(k => k.KeyId == ring.ActiveKeyId) ? ring : throw new FormatException($"The active signing key '{ring.ActiveKeyId}' is not in the ring.");
    }

    public override string ToString() => $"SigningKeyRing {{ ActiveKeyId = {ActiveKeyId}, Keys = {Keys.Count} }}";
}

/// <summary>One activity-log checkpoint key; only the active key's private half is kept.</summary>
internal sealed record AuditKeyEntry(string KeyId, string? PrivateKeyPem, string PublicKeyPem)
{
    public override string ToString() => $"AuditKeyEntry {{ KeyId = {KeyId} }}";
}

/// <summary>The bootstrap admin's identity and secret, the part of <c>admin-credentials.json</c> every replica shares.</summary>
internal sealed record AdminSecret(string TenantId, string SubscriptionId, string ClientId, string ObjectId, string ClientSecret)
{
    public override string ToString() => $"AdminSecret {{ TenantId = {TenantId}, ClientId = {ClientId} }}";
}

/// <summary>
/// Everything replicas share, as decrypted from <c>/cluster/secrets/*</c>: the CA, the token-signing ring, the
/// activity log's checkpoint keys and the bootstrap admin credential. <see cref="SigningKeysModRevision"/> is the
/// ring's mod revision (rotation compares on it); <see cref="Revision"/> the store revision it was read at.
/// </summary>
internal sealed record ClusterMaterial(
    string CaCertificatePem,
    string CaKeyPem,
    SigningKeyRing SigningKeys,
    string AuditActiveKeyId,
    IReadOnlyList<AuditKeyEntry> AuditKeys,
    AdminSecret Admin)
{
    public long SigningKeysModRevision { get; init; }

    public long Revision { get; init; }

    /// <summary>A fresh set for a new cluster: a new CA, one signing key, one checkpoint key and a new admin credential.</summary>
    public static ClusterMaterial CreateNew(DateTimeOffset now)
    {
        using var ca = CertificateAuthority.Create("Holdfast Cluster CA " + Guid.NewGuid().ToString("N")[..8], now, TimeSpan.FromDays(3650));
        using var audit = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var auditKeyId = AuditSigningKeys.KeyIdOf(audit);
        return new ClusterMaterial(
            ca.ExportCertificatePem(),
            ca.ExportPrivateKeyPem(),
            SigningKeyRing.CreateNew(),
            auditKeyId,
            [new AuditKeyEntry(auditKeyId, audit.ExportPkcs8PrivateKeyPem(), audit.ExportSubjectPublicKeyInfoPem())],
            new AdminSecret(Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), Holdfast.Identity.Secrets.SecretHasher.NewSecret()));
    }

    public CertificateAuthority CreateCertificateAuthority() => CertificateAuthority.FromPem(CaCertificatePem, CaKeyPem);

    public AuditSigningKeys CreateAuditSigningKeys() =>
        AuditSigningKeys.FromPem(AuditActiveKeyId, AuditKeys.Single(k => k.KeyId == AuditActiveKeyId).PrivateKeyPem!, AuditKeys.Select(k => k.PublicKeyPem));

    public JsonObject CaToJson() => new() { ["certificate"] = CaCertificatePem, ["key"] = CaKeyPem };

    public JsonObject AuditToJson() => new()
    {
        ["active"] = AuditActiveKeyId,
        ["keys"] = new JsonArray([.. AuditKeys.Select(k => (JsonNode)new JsonObject { ["kid"] = k.KeyId, ["key"] = k.PrivateKeyPem, ["publicKey"] = k.PublicKeyPem })]),
    };

    public JsonObject AdminToJson() => new()
    {
        ["tenantId"] = Admin.TenantId,
        ["subscriptionId"] = Admin.SubscriptionId,
        ["clientId"] = Admin.ClientId,
        ["objectId"] = Admin.ObjectId,
        ["clientSecret"] = Admin.ClientSecret,
    };

    public static ClusterMaterial FromJson(JsonNode ca, JsonNode signingKeys, JsonNode audit, JsonNode admin)
    {
        var auditKeys = audit["keys"]!.AsArray().Select(k => new AuditKeyEntry(k!["kid"]!.GetValue<string>(), k["key"]?.GetValue<string>(), k["publicKey"]!.GetValue<string>())).ToList();
        var active = audit["active"]!.GetValue<string>();
        if (!auditKeys.Any(k => k.KeyId == active && k.PrivateKeyPem is not null))
        {
            throw new FormatException($"The active checkpoint key '{active}' has no private key.");
        }

        return new ClusterMaterial(
            ca["certificate"]!.GetValue<string>(),
            ca["key"]!.GetValue<string>(),
            SigningKeyRing.FromJson(signingKeys),
            active,
            auditKeys,
            new AdminSecret(admin["tenantId"]!.GetValue<string>(), admin["subscriptionId"]!.GetValue<string>(), admin["clientId"]!.GetValue<string>(), admin["objectId"]!.GetValue<string>(), admin["clientSecret"]!.GetValue<string>()));
    }

    public override string ToString() => $"ClusterMaterial {{ SigningKeys = {SigningKeys}, AuditActiveKeyId = {AuditActiveKeyId}, Admin = {Admin} }}";
}
