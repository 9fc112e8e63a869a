using System.Text;
using Holdfast.Identity.Tokens;
using Holdfast.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Xunit;

namespace Holdfast.Identity.Tests.Tokens;

public sealed class TokenServiceTests : IDisposable
{
    private const string Audience = "https://management.holdfast.local/";
    private static readonly Uri Authority = new("https://login.holdfast.local:8443/");
    private static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);
    private static readonly TokenPrincipal Principal = new("0b6f4c2e-8a43-4d8f-9d3a-1f2e3d4c5b6a", "object-1", "app-1", "Deploy bot");

    private readonly ManualTimeProvider _time = new();
    private readonly SigningKey _key = SigningKey.Create();
    private readonly SigningKey _otherKey = SigningKey.Create();

    public void Dispose()
    {
        _key.Dispose();
        _otherKey.Dispose();
    }

    [Fact]
    public async Task ValidateAsync_FreshlyIssuedToken_ReturnsPrincipal()
    {
        var service = Service([_key]);
        var issued = service.Issue(Principal);

        var validation = await service.ValidateAsync(issued.AccessToken);

        Assert.True(validation.IsValid);
        Assert.Equal(TokenFailure.None, validation.Failure);
        Assert.Equal(Principal, validation.Principal);
        Assert.Equal(_time.GetUtcNow() + Lifetime, issued.ExpiresOn);
    }

    [Fact]
    public void Issue_Token_CarriesEntraShapedClaims()
    {
        var service = Service([_key]);

        var token = new JsonWebToken(service.Issue(Principal).AccessToken);

        Assert.Equal("ES256", token.Alg);
        Assert.Equal(service.IssuerFor("0b6f4c2e-8a43-4d8f-9d3a-1f2e3d4c5b6a"), token.Issuer);
        Assert.Equal("https://login.holdfast.local:8443/0b6f4c2e-8a43-4d8f-9d3a-1f2e3d4c5b6a/v2.0", token.Issuer);
        Assert.Equal([Audience], token.Audiences);
        Assert.Equal("0b6f4c2e-8a43-4d8f-9d3a-1f2e3d4c5b6a", token.GetPayloadValue<string>("tid"));
        Assert.Equal("object-1", token.GetPayloadValue<string>("oid"));
        Assert.Equal("app-1", token.GetPayloadValue<string>("appid"));
        Assert.Equal(_time.GetUtcNow().UtcDateTime + Lifetime, token.ValidTo);
    }

    [Fact]
    public async Task ValidateAsync_TenantClaimIsNotAGuid_ReturnsMalformed()
    {
        var service = Service([_key]);
        var token = service.Issue(Principal with { TenantId = "https://evil.example/" }).AccessToken;

        var result = await service.ValidateAsync(token);

        Assert.False(result.IsValid);
        Assert.Equal(TokenFailure.Malformed, result.Failure);
    }

    [Fact]
    public async Task ValidateAsync_AfterExpiryPlusClockSkew_ReturnsExpired()
    {
        var service = Service([_key]);
        var token = service.Issue(Principal).AccessToken;

        _time.Advance(Lifetime + TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        var validation = await service.ValidateAsync(token);

        Assert.False(validation.IsValid);
        Assert.Equal(TokenFailure.Expired, validation.Failure);
    }

    [Fact]
    public async Task ValidateAsync_JustBeforeExpiry_IsValid()
    {
        var service = Service([_key]);
        var token = service.Issue(Principal).AccessToken;

        _time.Advance(Lifetime - TimeSpan.FromSeconds(1));

        Assert.True((await service.ValidateAsync(token)).IsValid);
    }

    [Fact]
    public async Task ValidateAsync_IssuedInTheFuture_ReturnsNotYetValid()
    {
        var issuer = Service([_key]);
        var future = new ManualTimeProvider(_time.GetUtcNow() + TimeSpan.FromMinutes(10));
        var token = new TokenService(() => [_key], Authority, Audience, Lifetime, future).Issue(Principal).AccessToken;

        var validation = await issuer.ValidateAsync(token);

        Assert.Equal(TokenFailure.NotYetValid, validation.Failure);
        Assert.Contains("not yet valid", validation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidateAsync_NotBeforeWithinClockSkew_IsValid()
    {
        var future = new ManualTimeProvider(_time.GetUtcNow() + TimeSpan.FromSeconds(30));
        var token = new TokenService(() => [_key], Authority, Audience, Lifetime, future).Issue(Principal).AccessToken;

        Assert.True((await Service([_key]).ValidateAsync(token)).IsValid);
    }

    [Fact]
    public async Task ValidateAsync_TrustedKeyMaterialUnderUnknownKeyId_ReturnsUnknownKey()
    {
        // The signature would verify with a trusted key; only the kid is unknown, and no key is tried in its place.
        using var renamed = SigningKey.FromPem("not-a-known-kid", _key.ExportPrivateKeyPem());
        var token = Service([renamed]).Issue(Principal).AccessToken;

        var validation = await Service([_key]).ValidateAsync(token);

        Assert.Equal(TokenFailure.UnknownKey, validation.Failure);
        Assert.Contains("not-a-known-kid", validation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidateAsync_CredentialAndUserClaims_RoundTrip()
    {
        var service = Service([_key]);
        var user = Principal with { CredentialId = "cred-1", IsUser = true, UserName = "alice" };

        var validation = await service.ValidateAsync(service.Issue(user).AccessToken);
        var token = new JsonWebToken(service.Issue(user).AccessToken);

        Assert.Equal(user, validation.Principal);
        Assert.Equal("cred-1", token.GetPayloadValue<string>(TokenService.CredentialClaim));
        Assert.Equal("user", token.GetPayloadValue<string>("idtyp"));
        Assert.Equal("alice", token.GetPayloadValue<string>("upn"));
    }

    [Fact]
    public async Task IssueIdToken_IsAddressedToTheClient_AndRefusedAsAnAccessToken()
    {
        var service = Service([_key]);
        var user = Principal with { IsUser = true, UserName = "alice", CredentialId = "p1" };

        var idToken = service.IssueIdToken(user);
        var parsed = new JsonWebToken(idToken);

        Assert.Equal(["app-1"], parsed.Audiences);
        Assert.Equal("alice", parsed.GetPayloadValue<string>("preferred_username"));
        Assert.Equal("object-1", parsed.GetPayloadValue<string>("oid"));
        Assert.Equal(TokenFailure.WrongAudience, (await service.ValidateAsync(idToken)).Failure);
    }

    [Fact]
    public async Task ValidateAsync_ApplicationToken_IsNotAUserAndHasNoCredentialUnlessIssuedWithOne()
    {
        var service = Service([_key]);

        var validation = await service.ValidateAsync(service.Issue(Principal).AccessToken);

        Assert.False(validation.Principal!.IsUser);
        Assert.Null(validation.Principal.CredentialId);
        Assert.Equal("app", new JsonWebToken(service.Issue(Principal).AccessToken).GetPayloadValue<string>("idtyp"));
    }

    [Fact]
    public async Task ValidateAsync_TokenForAnotherAudience_ReturnsWrongAudience()
    {
        var other = new TokenService(() => [_key], Authority, "https://other.example/", Lifetime, _time);
        var token = other.Issue(Principal).AccessToken;

        var validation = await Service([_key]).ValidateAsync(token);

        Assert.Equal(TokenFailure.WrongAudience, validation.Failure);
        Assert.Null(validation.Principal);
    }

    [Fact]
    public async Task ValidateAsync_AudienceWithoutTrailingSlash_IsValid()
    {
        var other = new TokenService(() => [_key], Authority, Audience.TrimEnd('/'), Lifetime, _time);
        var token = other.Issue(Principal).AccessToken;

        Assert.True((await Service([_key]).ValidateAsync(token)).IsValid);
    }

    [Fact]
    public async Task ValidateAsync_TokenFromAnotherAuthority_ReturnsWrongIssuer()
    {
        var other = new TokenService(() => [_key], new Uri("https://elsewhere.example/"), Audience, Lifetime, _time);
        var token = other.Issue(Principal).AccessToken;

        var validation = await Service([_key]).ValidateAsync(token);

        Assert.Equal(TokenFailure.WrongIssuer, validation.Failure);
    }

    [Fact]
    public async Task ValidateAsync_TenantClaimDisagreesWithIssuer_ReturnsWrongIssuer()
    {
        var service = Service([_key]);
        var token = Sign(_key, SecurityAlgorithms.EcdsaSha256, issuer: service.IssuerFor("7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"), tenantId: "0b6f4c2e-8a43-4d8f-9d3a-1f2e3d4c5b6a");

        var validation = await service.ValidateAsync(token);

        Assert.Equal(TokenFailure.WrongIssuer, validation.Failure);
    }

    [Fact]
    public async Task ValidateAsync_HandBuiltTokenWithOwnKey_IsValid()
    {
        // Guards the helper below: a token it signs with a trusted key passes, so refusals in other tests are real.
        var service = Service([_key]);
        var token = Sign(_key, SecurityAlgorithms.EcdsaSha256, issuer: service.IssuerFor("0b6f4c2e-8a43-4d8f-9d3a-1f2e3d4c5b6a"), tenantId: "0b6f4c2e-8a43-4d8f-9d3a-1f2e3d4c5b6a");

        Assert.True((await service.ValidateAsync(token)).IsValid);
    }

    [Fact]
    public async Task ValidateAsync_SignedByKeyNotInSet_ReturnsUnknownKey()
    {
        var forger = Service([_otherKey]);
        var token = forger.Issue(Principal).AccessToken;

        var validation = await Service([_key]).ValidateAsync(token);

        Assert.Equal(TokenFailure.UnknownKey, validation.Failure);
    }

    [Fact]
    public async Task ValidateAsync_ForeignKeyClaimingTrustedKeyId_ReturnsBadSignature()
    {
        using var impostor = new SigningKey(_key.KeyId, System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256));
        var token = Service([impostor]).Issue(Principal).AccessToken;

        var validation = await Service([_key]).ValidateAsync(token);

        Assert.Equal(TokenFailure.BadSignature, validation.Failure);
    }

    [Fact]
    public async Task ValidateAsync_TamperedPayload_ReturnsBadSignature()
    {
        var service = Service([_key]);
        var parts = service.Issue(Principal).AccessToken.Split('.');
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1])).Replace("object-1", "object-2", StringComparison.Ordinal);
        var tampered = string.Join('.', parts[0], Base64UrlEncoder.Encode(payload), parts[2]);

        var validation = await service.ValidateAsync(tampered);

        Assert.Equal(TokenFailure.BadSignature, validation.Failure);
    }

    [Fact]
    public async Task ValidateAsync_AlgNone_IsRefused()
    {
        var service = Service([_key]);
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var header = Base64UrlEncoder.Encode("""{"alg":"none","typ":"JWT"}""");
        var payload = Base64UrlEncoder.Encode(
            $$"""{"iss":"{{service.IssuerFor("0b6f4c2e-8a43-4d8f-9d3a-1f2e3d4c5b6a")}}","aud":"{{Audience}}","tid":"0b6f4c2e-8a43-4d8f-9d3a-1f2e3d4c5b6a","oid":"object-1","appid":"app-1","iat":{{now}},"nbf":{{now}},"exp":{{now + 3600}}}""");
        var token = header + "." + payload + ".";

        var validation = await service.ValidateAsync(token);

        Assert.False(validation.IsValid);
        Assert.Equal(TokenFailure.BadSignature, validation.Failure);
    }

    [Fact]
    public async Task ValidateAsync_SymmetricAlgorithm_IsRefused()
    {
        var service = Service([_key]);
        var secret = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(new string('k', 32))) { KeyId = _key.KeyId };
        var token = Sign(secret, SecurityAlgorithms.HmacSha256, service.IssuerFor("0b6f4c2e-8a43-4d8f-9d3a-1f2e3d4c5b6a"), "0b6f4c2e-8a43-4d8f-9d3a-1f2e3d4c5b6a");

        var validation = await service.ValidateAsync(token);

        Assert.False(validation.IsValid);
        Assert.Equal(TokenFailure.BadSignature, validation.Failure);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("a.b.c")]
    [InlineData("not.a.jwt.at.all")]
    public async Task ValidateAsync_Garbage_ReturnsMalformed(string token)
    {
        var validation = await Service([_key]).ValidateAsync(token);

        Assert.False(validation.IsValid);
        Assert.Equal(TokenFailure.Malformed, validation.Failure);
    }

    [Fact]
    public async Task ValidateAsync_NoTenantClaim_ReturnsMalformed()
    {
        var service = Service([_key]);
        var token = Sign(_key, SecurityAlgorithms.EcdsaSha256, service.IssuerFor("0b6f4c2e-8a43-4d8f-9d3a-1f2e3d4c5b6a"), tenantId: null);

        Assert.Equal(TokenFailure.Malformed, (await service.ValidateAsync(token)).Failure);
    }

    [Fact]
    public async Task ValidateAsync_TokenSignedByRotatedOutKey_StillValidWhileInSet()
    {
        using var newKey = SigningKey.Create();
        var oldToken = Service([_key]).Issue(Principal).AccessToken;

        var validation = await Service([newKey, _key]).ValidateAsync(oldToken);

        Assert.True(validation.IsValid);
    }

    [Fact]
    public async Task Issue_AfterRotation_SignsWithFirstKey()
    {
        using var newKey = SigningKey.Create();
        IReadOnlyList<SigningKey> keys = [_key];
        var service = new TokenService(() => keys, Authority, Audience, Lifetime, _time);
        Assert.Equal(_key.KeyId, new JsonWebToken(service.Issue(Principal).AccessToken).Kid);

        keys = [newKey, _key];
        var token = service.Issue(Principal).AccessToken;

        Assert.Equal(newKey.KeyId, new JsonWebToken(token).Kid);
        Assert.True((await Service([newKey]).ValidateAsync(token)).IsValid);
    }

    [Fact]
    public async Task ValidateAsync_OldKeyRemovedFromSet_ReturnsUnknownKey()
    {
        using var newKey = SigningKey.Create();
        var oldToken = Service([_key]).Issue(Principal).AccessToken;

        Assert.Equal(TokenFailure.UnknownKey, (await Service([newKey]).ValidateAsync(oldToken)).Failure);
    }

    [Theory]
    [InlineData("https://management.holdfast.local/", true)]
    [InlineData("https://management.holdfast.local", true)]
    [InlineData("HTTPS://MANAGEMENT.HOLDFAST.LOCAL//", true)]
    [InlineData("https://management.azure.com/", false)]
    public void IsOwnAudience_Variants_MatchesIgnoringTrailingSlashAndCase(string requested, bool expected)
    {
        Assert.Equal(expected, Service([_key]).IsOwnAudience(requested));
    }

    private TokenService Service(IReadOnlyList<SigningKey> keys) => new(() => keys, Authority, Audience, Lifetime, _time);

    private string Sign(SigningKey key, string algorithm, string issuer, string? tenantId) =>
        Sign(key.SecurityKey, algorithm, issuer, tenantId);

    /// <summary>Builds a token outside <see cref="TokenService"/>, so tests can put in claims it would never issue.</summary>
    private string Sign(SecurityKey key, string algorithm, string issuer, string? tenantId)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        var claims = new Dictionary<string, object> { ["oid"] = "object-1", ["appid"] = "app-1" };
        if (tenantId is not null)
        {
            claims["tid"] = tenantId;
        }

        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + Lifetime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(key, algorithm),
        });
    }
}
