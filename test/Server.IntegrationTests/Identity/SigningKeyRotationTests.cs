using System.Net;
using System.Text.Json;
using Holdfast.Server.IntegrationTests.Infrastructure;
using static Holdfast.Server.IntegrationTests.Identity.IdentityCalls;

namespace Holdfast.Server.IntegrationTests.Identity;

/// <summary>
/// Signing-key rotation on a server of its own: the new key signs, JWKS serves old and new, a token the old key signed
/// keeps working (also across a restart, when no cache remembers it), and retired keys older than the token lifetime
/// are pruned while recent ones stay.
/// </summary>
public sealed class SigningKeyRotationTests
{
    [Fact]
    public async Task Rotate_NewKeySigns_OldTokensKeepWorking_JwksServesBoth()
    {
        await using var server = await ServerProcess.StartAsync(null, "--throttle", "off");
        var credentials = server.Credentials;
        var oldKid = ActiveKid(server);
        var oldToken = await Clients.TokenAsync(credentials);
        using var admin = Clients.Http(credentials);
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", oldToken);

        // The old token is presented for the first time only after the rotation, so no cache has seen it.
        var (status, rotated, text) = await SendAsync(admin, HttpMethod.Post, $"{Root}/rotateSigningKey?{ApiVersion}");
        Assert.True(status == HttpStatusCode.OK, text);
        var newKid = S(rotated!, "activeKeyId");
        Assert.NotEqual(oldKid, newKid);
        Assert.Equal(newKid, ActiveKid(server));

        var newToken = await Clients.TokenAsync(credentials);
        Assert.Equal(newKid, Kid(newToken));
        Assert.Equal(oldKid, Kid(oldToken));
        Assert.Equal(HttpStatusCode.OK, (await WhoAmIAsync(credentials, newToken)).Status);

        using var http = Clients.Http(credentials);
        using var jwks = JsonDocument.Parse(await http.GetStringAsync($"{credentials.TenantId}/discovery/v2.0/keys"));
        var kids = jwks.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()).ToList();
        Assert.Contains(oldKid, kids);
        Assert.Contains(newKid, kids);

        server.Kill();
        await server.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await WhoAmIAsync(server.Credentials, oldToken)).Status);
        Assert.Equal(HttpStatusCode.OK, (await WhoAmIAsync(server.Credentials, newToken)).Status);
    }

    [Fact]
    public async Task RetiredKeys_OlderThanTheTokenLifetime_ArePrunedAtStart_RecentOnesStay()
    {
        await using var server = await ServerProcess.StartAsync(null, "--throttle", "off");
        var keys = Path.Combine(server.DataDirectory, "keys");
        var token = await Clients.TokenAsync(server.Credentials);
        using (var admin = Clients.Http(server.Credentials))
        {
            admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            await SendAsync(admin, HttpMethod.Post, $"{Root}/rotateSigningKey?{ApiVersion}");
            await SendAsync(admin, HttpMethod.Post, $"{Root}/rotateSigningKey?{ApiVersion}");
        }

        server.Kill();
        var retired = Directory.GetFiles(keys, "signing-*.retired").Select(f => Path.GetFileNameWithoutExtension(f)["signing-".Length..]).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, retired.Count);
        var (stale, recent) = (retired[0], retired[1]);
        await File.WriteAllTextAsync(Path.Combine(keys, $"signing-{stale}.retired"), TimeProvider.System.GetUtcNow().AddHours(-2).ToString("O", System.Globalization.CultureInfo.InvariantCulture));

        await server.StartAsync();

        Assert.False(File.Exists(Path.Combine(keys, $"signing-{stale}.pem")));
        Assert.True(File.Exists(Path.Combine(keys, $"signing-{recent}.pem")));
        using var http = Clients.Http(server.Credentials);
        using var jwks = JsonDocument.Parse(await http.GetStringAsync($"{server.Credentials.TenantId}/discovery/v2.0/keys"));
        var kids = jwks.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()).ToList();
        Assert.DoesNotContain(stale, kids);
        Assert.Contains(recent, kids);
        Assert.Contains(ActiveKid(server), kids);
    }

    private static string ActiveKid(ServerProcess server) => File.ReadAllText(Path.Combine(server.DataDirectory, "keys", "active")).Trim();

    private static string Kid(string token)
    {
        var header = token.Split('.')[0].Replace('-', '+').Replace('_', '/');
        header = header.PadRight(header.Length + ((4 - (header.Length % 4)) % 4), '=');
        using var document = JsonDocument.Parse(Convert.FromBase64String(header));
        return document.RootElement.GetProperty("kid").GetString()!;
    }
}
