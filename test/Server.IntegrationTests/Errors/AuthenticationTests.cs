using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Azure.Core;
using Azure.Identity;
using Holdfast.Identity.Tokens;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Errors;

/// <summary>Every ARM route needs a valid token: missing, malformed, unsigned, forged, expired, wrong-audience and wrong-issuer tokens get 401s.</summary>
[Collection(ServerCollection.Name)]
public sealed class AuthenticationTests(ServerFixture fixture)
{
    private string ResourceGroupsPath => $"subscriptions/{fixture.Credentials.SubscriptionId}/resourcegroups?api-version=2022-09-01";

    [Fact]
    public async Task NoToken_Returns401AuthenticationFailed()
    {
        using var http = Clients.Http(fixture.Credentials);
        using var response = await http.GetAsync(ResourceGroupsPath);
        var (status, code, _) = await Envelope.ReadAsync(response);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("AuthenticationFailed", code);
        Assert.NotEmpty(response.Headers.WwwAuthenticate);
    }

    [Fact]
    public async Task UnknownRouteWithoutToken_Returns401NotRouteInformation()
    {
        using var http = Clients.Http(fixture.Credentials);
        using var response = await http.GetAsync("anything/at/all");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.b.c")]
    public async Task GarbageToken_Returns401InvalidAuthenticationToken(string token)
    {
        var (status, code) = await CallWithTokenAsync(token);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("InvalidAuthenticationToken", code);
    }

    [Fact]
    public async Task AlgNoneToken_Returns401InvalidAuthenticationToken()
    {
        var real = await Clients.TokenAsync(fixture.Credentials);
        var payload = real.Split('.')[1];
        var header = Base64Url("""{"alg":"none","typ":"JWT"}""");
        var (status, code) = await CallWithTokenAsync(header + "." + payload + ".");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("InvalidAuthenticationToken", code);
    }

    [Fact]
    public async Task TokenSignedByForeignKey_Returns401InvalidAuthenticationToken()
    {
        using var foreign = SigningKey.Create();
        var forged = Service([foreign], TimeProvider.System).Issue(AdminPrincipal());
        var (status, code) = await CallWithTokenAsync(forged.AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("InvalidAuthenticationToken", code);
    }

    [Fact]
    public async Task TamperedPayload_Returns401InvalidAuthenticationToken()
    {
        var real = (await Clients.TokenAsync(fixture.Credentials)).Split('.');
        var claims = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(Encoding.UTF8.GetString(Convert.FromBase64String(Pad(real[1]))))!;
        var tampered = claims.ToDictionary(k => k.Key, k => (object)k.Value);
        tampered["oid"] = Guid.NewGuid().ToString();
        var (status, code) = await CallWithTokenAsync(real[0] + "." + Base64Url(JsonSerializer.Serialize(tampered)) + "." + real[2]);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("InvalidAuthenticationToken", code);
    }

    [Fact]
    public async Task ExpiredToken_Returns401ExpiredAuthenticationToken()
    {
        using var key = ServerKey();
        var twoHoursAgo = new FixedTime(TimeProvider.System.GetUtcNow().AddHours(-2));
        var expired = Service([key], twoHoursAgo).Issue(AdminPrincipal());
        var (status, code) = await CallWithTokenAsync(expired.AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("ExpiredAuthenticationToken", code);
    }

    [Fact]
    public async Task WrongAudience_Returns401InvalidAuthenticationTokenAudience()
    {
        using var key = ServerKey();
        var service = new TokenService(() => [key], fixture.Credentials.Endpoint, "https://management.azure.com/", TimeSpan.FromHours(1), TimeProvider.System);
        var (status, code) = await CallWithTokenAsync(service.Issue(AdminPrincipal()).AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("InvalidAuthenticationTokenAudience", code);
    }

    [Fact]
    public async Task WrongIssuer_Returns401()
    {
        using var key = ServerKey();
        var service = new TokenService(() => [key], new Uri("https://login.example.invalid/"), fixture.Credentials.Audience, TimeSpan.FromHours(1), TimeProvider.System);
        var (status, code) = await CallWithTokenAsync(service.Issue(AdminPrincipal()).AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("InvalidAuthenticationTokenTenant", code);
    }

    [Fact]
    public async Task WrongClientSecret_ClientSecretCredentialFails()
    {
        var credential = Clients.Credential(fixture.Credentials, secret: "wrong-secret");
        var error = await Assert.ThrowsAsync<AuthenticationFailedException>(() =>
            credential.GetTokenAsync(new TokenRequestContext([fixture.Credentials.Audience + "/.default"]), CancellationToken.None).AsTask());
        Assert.Contains("7000215", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenEndpoint_IssuesEs256JwtWithAudienceIssuerAndAnHourOfLife()
    {
        using var http = Clients.Http(fixture.Credentials);
        var c = fixture.Credentials;
        using var response = await http.PostAsync($"{c.TenantId}/oauth2/v2.0/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = c.ClientId,
            ["client_secret"] = c.ClientSecret,
            ["grant_type"] = "client_credentials",
            ["scope"] = c.Audience + "/.default",
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Bearer", body.RootElement.GetProperty("token_type").GetString());
        Assert.True(body.RootElement.GetProperty("expires_in").GetInt64() >= 3600);
        var parts = body.RootElement.GetProperty("access_token").GetString()!.Split('.');
        using var header = JsonDocument.Parse(Convert.FromBase64String(Pad(parts[0])));
        using var claims = JsonDocument.Parse(Convert.FromBase64String(Pad(parts[1])));
        Assert.Equal("ES256", header.RootElement.GetProperty("alg").GetString());
        Assert.Equal(c.Audience, claims.RootElement.GetProperty("aud").GetString());
        Assert.Equal($"{c.Endpoint}{c.TenantId}/v2.0", claims.RootElement.GetProperty("iss").GetString());
        Assert.Equal(c.ObjectId, claims.RootElement.GetProperty("oid").GetString());
        Assert.Equal(c.ClientId, claims.RootElement.GetProperty("appid").GetString());
    }

    [Fact]
    public async Task DiscoveryAndJwks_PublishTheSigningKey()
    {
        using var http = Clients.Http(fixture.Credentials);
        var tenant = fixture.Credentials.TenantId;
        using var configuration = JsonDocument.Parse(await http.GetStringAsync($"{tenant}/v2.0/.well-known/openid-configuration"));
        var jwksUri = configuration.RootElement.GetProperty("jwks_uri").GetString()!;
        Assert.EndsWith($"{tenant}/oauth2/v2.0/token", configuration.RootElement.GetProperty("token_endpoint").GetString(), StringComparison.Ordinal);
        using var jwks = JsonDocument.Parse(await http.GetStringAsync(new Uri(jwksUri)));
        var kids = jwks.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()).ToList();
        Assert.Contains(File.ReadAllText(Path.Combine(fixture.Server.DataDirectory, "keys", "active")).Trim(), kids);
        Assert.All(jwks.RootElement.GetProperty("keys").EnumerateArray(), k => Assert.False(k.TryGetProperty("d", out _), "no private key material in JWKS"));
    }

    [Theory]
    [InlineData("2022-09-01")]
    [InlineData("2015-01-01")]
    public async Task MetadataEndpoints_DescribeThisCloudAnonymously(string apiVersion)
    {
        using var http = Clients.Http(fixture.Credentials);
        using var document = JsonDocument.Parse(await http.GetStringAsync($"metadata/endpoints?api-version={apiVersion}"));
        var audiences = document.RootElement.GetProperty("authentication").GetProperty("audiences");
        Assert.Contains(audiences.EnumerateArray(), a => a.GetString() == fixture.Credentials.Audience);
        Assert.Equal(fixture.Credentials.Endpoint.ToString(), document.RootElement.GetProperty("authentication").GetProperty("loginEndpoint").GetString());
    }

    private async Task<(HttpStatusCode Status, string? Code)> CallWithTokenAsync(string token)
    {
        using var http = Clients.Http(fixture.Credentials);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.GetAsync(ResourceGroupsPath);
        var (status, code, _) = await Envelope.ReadAsync(response);
        return (status, code);
    }

    private TokenPrincipal AdminPrincipal() =>
        new(fixture.Credentials.TenantId, fixture.Credentials.ObjectId, fixture.Credentials.ClientId, "test");

    private TokenService Service(IReadOnlyList<SigningKey> keys, TimeProvider time) =>
        new(() => keys, fixture.Credentials.Endpoint, fixture.Credentials.Audience, TimeSpan.FromHours(1), time);

    /// <summary>The server's own active signing key, read from its data directory (as an attacker with disk access could).</summary>
    private SigningKey ServerKey()
    {
        var keys = Path.Combine(fixture.Server.DataDirectory, "keys");
        var kid = File.ReadAllText(Path.Combine(keys, "active")).Trim();
        return SigningKey.FromPem(kid, File.ReadAllText(Path.Combine(keys, $"signing-{kid}.pem")));
    }

    private static string Base64Url(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Pad(string base64Url)
    {
        var text = base64Url.Replace('-', '+').Replace('_', '/');
        return text.PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '=');
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
