using Holdfast.Identity.Tokens;
using Microsoft.IdentityModel.Tokens;
using Xunit;

namespace Holdfast.Identity.Tests.Tokens;

public sealed class SigningKeyTests
{
    [Fact]
    public void ToPublicJwk_NewKey_IsEcP256WithCoordinatesAndKeyId()
    {
        using var key = SigningKey.Create();

        var jwk = key.ToPublicJwk();

        Assert.Equal("EC", jwk["kty"]);
        Assert.Equal("P-256", jwk["crv"]);
        Assert.Equal("ES256", jwk["alg"]);
        Assert.Equal("sig", jwk["use"]);
        Assert.Equal(key.KeyId, jwk["kid"]);
        Assert.Equal(32, Base64UrlEncoder.DecodeBytes(jwk["x"]).Length);
        Assert.Equal(32, Base64UrlEncoder.DecodeBytes(jwk["y"]).Length);
        Assert.False(jwk.ContainsKey("d"));
    }

    [Fact]
    public void Create_TwoKeys_HaveDistinctKeyIds()
    {
        using var a = SigningKey.Create();
        using var b = SigningKey.Create();

        Assert.NotEqual(a.KeyId, b.KeyId);
        Assert.Equal(16, a.KeyId.Length);
    }

    [Fact]
    public void FromPem_ExportedKey_HasSamePublicJwk()
    {
        using var original = SigningKey.Create();

        using var restored = SigningKey.FromPem(original.KeyId, original.ExportPrivateKeyPem());

        Assert.Equal(original.ToPublicJwk(), restored.ToPublicJwk());
    }
}
