using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Server.IntegrationTests.Infrastructure;
using Holdfast.State;
using Holdfast.State.Sqlite;
using static Holdfast.Server.IntegrationTests.Identity.IdentityCalls;

namespace Holdfast.Server.IntegrationTests.Identity;

/// <summary>
/// A data directory from before service principals had names (the record without <c>name</c>, no name index) is
/// migrated at start: the bootstrap admin becomes <c>bootstrap-admin</c> and keeps signing in.
/// </summary>
public sealed class PrincipalMigrationTests
{
    [Fact]
    public async Task UnnamedPrincipalsFromAnOlderVersion_AreNamedAtStart()
    {
        await using var server = await ServerProcess.StartAsync(null, "--throttle", "off");
        var credentials = server.Credentials;
        server.Kill();

        // Rewrite the store offline, as the previous version left it.
        var principalKey = $"/principals/{credentials.TenantId.ToLowerInvariant()}/{credentials.ClientId.ToLowerInvariant()}";
        var indexKey = $"/principalnames/{credentials.TenantId.ToLowerInvariant()}/bootstrap-admin";
        await using (var store = await SqliteStateStore.OpenAsync(Path.Combine(server.DataDirectory, "state.db"), new SqliteStateStoreOptions(), TimeProvider.System, CancellationToken.None))
        {
            var stored = await store.GetAsync(principalKey, CancellationToken.None);
            var legacy = JsonNode.Parse(stored!.Value.Span)!.AsObject();
            Assert.True(legacy.Remove("name"));
            var result = await store.TxnAsync(
                new TxnRequest([Compare.Exists(indexKey)], [TxnOp.Put(principalKey, Encoding.UTF8.GetBytes(legacy.ToJsonString())), TxnOp.Delete(indexKey)]),
                CancellationToken.None);
            Assert.True(result.Succeeded);
        }

        await server.StartAsync();

        using var http = await Clients.AuthenticatedHttpAsync(server.Credentials);
        var (status, admin, text) = await SendAsync(http, HttpMethod.Get, $"{Root}/servicePrincipals/bootstrap-admin?{ApiVersion}");
        Assert.True(status == HttpStatusCode.OK, text);
        Assert.Equal(credentials.ClientId, S(admin!, "properties", "appId"));
        var (_, list, _) = await SendAsync(http, HttpMethod.Get, $"{Root}/servicePrincipals?{ApiVersion}");
        Assert.Equal("bootstrap-admin", S(Assert.Single(list!["value"]!.AsArray())!, "name"));
    }
}
