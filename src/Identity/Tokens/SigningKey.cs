using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace Holdfast.Identity.Tokens;

/// <summary>An ECDSA P-256 token-signing key with its key id (the JWT <c>kid</c>). Ed25519 is not in the BCL.</summary>
public sealed class SigningKey : IDisposable
{
    private readonly ECDsa _ecdsa;

    public SigningKey(string keyId, ECDsa ecdsa)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyId);
        ArgumentNullException.ThrowIfNull(ecdsa);
        KeyId = keyId;
        _ecdsa = ecdsa;
        // A factory per key: IdentityModel's shared factory caches signature providers by key id, which would
        // outlive this key's ECDsa if the same key id were loaded again after a disposal.
        SecurityKey = new ECDsaSecurityKey(ecdsa) { KeyId = keyId, CryptoProviderFactory = new CryptoProviderFactory() };
    }

    public string KeyId { get; }

    public ECDsaSecurityKey SecurityKey { get; }

    public static SigningKey Create()
    {
        var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var keyId = Convert.ToHexStringLower(SHA256.HashData(ecdsa.ExportSubjectPublicKeyInfo()))[..16];
        return new SigningKey(keyId, ecdsa);
    }

    public static SigningKey FromPem(string keyId, string pem)
    {
        var ecdsa = ECDsa.Create();
        ecdsa.ImportFromPem(pem);
        return new SigningKey(keyId, ecdsa);
    }

    public string ExportPrivateKeyPem() => _ecdsa.ExportPkcs8PrivateKeyPem();

    /// <summary>The public half as a JWK, for the JWKS document.</summary>
    public IReadOnlyDictionary<string, string> ToPublicJwk()
    {
        var p = _ecdsa.ExportParameters(includePrivateParameters: false);
        return new Dictionary<string, string>
        {
            ["kty"] = "EC",
            ["use"] = "sig",
            ["crv"] = "P-256",
            ["alg"] = SecurityAlgorithms.EcdsaSha256,
            ["kid"] = KeyId,
            ["x"] = Base64UrlEncoder.Encode(p.Q.X),
            ["y"] = Base64UrlEncoder.Encode(p.Q.Y),
        };
    }

    public void Dispose() => _ecdsa.Dispose();
}
