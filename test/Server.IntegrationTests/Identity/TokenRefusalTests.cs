using System.Net;
using Holdfast.Identity.Tokens;
using Holdfast.Server.IntegrationTests.Infrastructure;
using static Holdfast.Server.IntegrationTests.Identity.IdentityCalls;

namespace Holdfast.Server.IntegrationTests.Identity;

/// <summary>
/// Token refusals the authentication tests do not cover: a token not yet valid, one naming an unknown key id, one
/// without a credential claim, and revocation — a deleted principal's or removed password's token is refused on the
/// very next request, even though the server had already validated (and cached) it.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class TokenRefusalTests(ServerFixture fixture)
{
    [Fact]
    public async Task ForgedWithServerKeyAndRealCredential_IsAccepted_TheControlForTheRefusalsBelow()
    {
        using var key = ServerKey();
        var token = Service([key], TimeProvider.System).Issue(await AdminPrincipalAsync()).AccessToken;
        var (status, _, _) = await WhoAmIAsync(fixture.Credentials, token);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task NotYetValidToken_Returns401InvalidAuthenticationToken()
    {
        using var key = ServerKey();
        var inTwoHours = new FixedTime(TimeProvider.System.GetUtcNow().AddHours(2));
        var token = Service([key], inTwoHours).Issue(await AdminPrincipalAsync()).AccessToken;
        var (status, code, message) = await WhoAmIAsync(fixture.Credentials, token);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("InvalidAuthenticationToken", code);
        Assert.Contains("not yet valid", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownKeyId_EvenWithTheServersKeyMaterial_Returns401InvalidAuthenticationToken()
    {
        using var real = ServerKey();
        using var renamed = SigningKey.FromPem("0123456789abcdef", real.ExportPrivateKeyPem());
        var token = Service([renamed], TimeProvider.System).Issue(await AdminPrincipalAsync()).AccessToken;
        var (status, code, message) = await WhoAmIAsync(fixture.Credentials, token);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("InvalidAuthenticationToken", code);
        Assert.Contains("0123456789abcdef", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenWithoutCredentialClaim_Returns401InvalidAuthenticationToken()
    {
        using var key = ServerKey();
        var token = Service([key], TimeProvider.System).Issue(await AdminPrincipalAsync() with { CredentialId = null }).AccessToken;
        var (status, code, _) = await WhoAmIAsync(fixture.Credentials, token);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("InvalidAuthenticationToken", code);
    }

    [Fact]
    public async Task TokenForAnObjectIdNotInTheDirectory_Returns401InvalidAuthenticationToken()
    {
        using var key = ServerKey();
        var token = Service([key], TimeProvider.System).Issue(await AdminPrincipalAsync() with { ObjectId = Guid.NewGuid().ToString() }).AccessToken;
        var (status, code, _) = await WhoAmIAsync(fixture.Credentials, token);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("InvalidAuthenticationToken", code);
    }

    [Fact]
    public async Task DeletedPrincipal_ItsValidatedTokenIsRefusedOnTheNextRequest()
    {
        var name = ServerFixture.UniqueName("revoke");
        var (appId, _, secret, _) = await CreateServicePrincipalAsync(fixture.Http, name);
        var token = await ClientTokenAsync(fixture.Credentials, appId, secret);
        Assert.Equal(HttpStatusCode.OK, (await WhoAmIAsync(fixture.Credentials, token)).Status);

        var (deleted, _, _) = await SendAsync(fixture.Http, HttpMethod.Delete, $"{Root}/servicePrincipals/{name}?{ApiVersion}");
        var (status, code, message) = await WhoAmIAsync(fixture.Credentials, token);

        Assert.Equal(HttpStatusCode.OK, deleted);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("InvalidAuthenticationToken", code);
        Assert.Contains("does not exist", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RemovedPassword_ItsTokenIsRefused_WhileAnotherPasswordsTokenKeepsWorking()
    {
        var name = ServerFixture.UniqueName("revoke");
        var (appId, _, secret, keyId) = await CreateServicePrincipalAsync(fixture.Http, name);
        var (_, second, _) = await SendAsync(fixture.Http, HttpMethod.Post, $"{Root}/servicePrincipals/{name}/addPassword?{ApiVersion}", "{}");
        var removedToken = await ClientTokenAsync(fixture.Credentials, appId, secret);
        var keptToken = await ClientTokenAsync(fixture.Credentials, appId, S(second!, "secretText"));
        Assert.Equal(HttpStatusCode.OK, (await WhoAmIAsync(fixture.Credentials, removedToken)).Status);

        var (removed, _, _) = await SendAsync(fixture.Http, HttpMethod.Post, $"{Root}/servicePrincipals/{name}/removePassword?{ApiVersion}", $$$"""{"keyId":"{{{keyId}}}"}""");
        var refused = await WhoAmIAsync(fixture.Credentials, removedToken);
        var kept = await WhoAmIAsync(fixture.Credentials, keptToken);

        Assert.Equal(HttpStatusCode.NoContent, removed);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.Equal("InvalidAuthenticationToken", refused.Code);
        Assert.Contains(keyId, refused.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, kept.Status);
    }

    /// <summary>The bootstrap admin as its tokens name it, with the key id of its bootstrap password.</summary>
    private async Task<TokenPrincipal> AdminPrincipalAsync()
    {
        var (_, admin, _) = await SendAsync(fixture.Http, HttpMethod.Get, $"{Root}/servicePrincipals/bootstrap-admin?{ApiVersion}");
        var keyId = S(admin!["properties"]!["passwordCredentials"]!.AsArray()[0]!, "keyId");
        return new TokenPrincipal(fixture.Credentials.TenantId, fixture.Credentials.ObjectId, fixture.Credentials.ClientId, "test") { CredentialId = keyId };
    }

    private TokenService Service(IReadOnlyList<SigningKey> keys, TimeProvider time) =>
        new(() => keys, fixture.Credentials.Endpoint, fixture.Credentials.Audience, TimeSpan.FromHours(1), time);

    /// <summary>The server's active signing key, read from its data directory (as an attacker with disk access could).</summary>
    private SigningKey ServerKey()
    {
        var keys = Path.Combine(fixture.Server.DataDirectory, "keys");
        var kid = File.ReadAllText(Path.Combine(keys, "active")).Trim();
        return SigningKey.FromPem(kid, File.ReadAllText(Path.Combine(keys, $"signing-{kid}.pem")));
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
