using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Server.IntegrationTests.Infrastructure;
using static Holdfast.Server.IntegrationTests.Identity.IdentityCalls;

namespace Holdfast.Server.IntegrationTests.Identity;

/// <summary>
/// The service-principal API over the real server: create/update/get/list/delete, addPassword and removePassword,
/// validation with ARM envelopes, and that responses never carry a hash or a secret other than the new one.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ServicePrincipalApiTests(ServerFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Put_NewThenExisting_Returns201Then200WithStableIds()
    {
        var name = ServerFixture.UniqueName("sp");
        var (createdStatus, created, _) = await SendAsync(Http, HttpMethod.Put, $"{Root}/servicePrincipals/{name}?{ApiVersion}", """{"properties":{"displayName":"Deploy bot"}}""");
        var (updatedStatus, updated, _) = await SendAsync(Http, HttpMethod.Put, $"{Root}/servicePrincipals/{name}?{ApiVersion}", """{"properties":{"displayName":"Deploy bot 2"}}""");

        Assert.Equal(HttpStatusCode.Created, createdStatus);
        Assert.Equal(HttpStatusCode.OK, updatedStatus);
        Assert.Equal($"/providers/Holdfast.Identity/servicePrincipals/{name}", S(created!, "id"));
        Assert.Equal(name, S(created!, "name"));
        Assert.Equal("Holdfast.Identity/servicePrincipals", S(created!, "type"));
        Assert.True(Guid.TryParse(S(created!, "properties", "appId"), out _));
        Assert.True(Guid.TryParse(S(created!, "properties", "objectId"), out _));
        Assert.NotEqual(S(created!, "properties", "appId"), S(created!, "properties", "objectId"));
        Assert.Equal(S(created!, "properties", "appId"), S(updated!, "properties", "appId"));
        Assert.Equal(S(created!, "properties", "objectId"), S(updated!, "properties", "objectId"));
        Assert.Equal("Deploy bot 2", S(updated!, "properties", "displayName"));
        Assert.Empty(updated!["properties"]!["passwordCredentials"]!.AsArray());

        var (getStatus, fetched, _) = await SendAsync(Http, HttpMethod.Get, $"{Root}/servicePrincipals/{name.ToUpperInvariant()}?{ApiVersion}");
        Assert.Equal(HttpStatusCode.OK, getStatus);
        Assert.Equal("Deploy bot 2", S(fetched!, "properties", "displayName"));
    }

    [Fact]
    public async Task AddPassword_ReturnsSecretOnce_StoresOnlyMetadata_AndTheSecretSignsIn()
    {
        var name = ServerFixture.UniqueName("sp");
        await SendAsync(Http, HttpMethod.Put, $"{Root}/servicePrincipals/{name}?{ApiVersion}", """{"properties":{}}""");
        var end = TimeProvider.System.GetUtcNow().AddDays(30);
        var (status, password, _) = await SendAsync(Http, HttpMethod.Post, $"{Root}/servicePrincipals/{name}/addPassword?{ApiVersion}", $$$"""{"displayName":"ci","endDateTime":"{{{end:yyyy-MM-ddTHH:mm:ssZ}}}"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var secret = S(password!, "secretText");
        var keyId = S(password!, "keyId");
        Assert.True(secret.Length >= 32);
        Assert.Equal("ci", S(password!, "displayName"));
        Assert.Equal(end.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture), S(password!, "endDateTime"));

        var (_, fetched, text) = await SendAsync(Http, HttpMethod.Get, $"{Root}/servicePrincipals/{name}?{ApiVersion}");
        var credential = Assert.Single(fetched!["properties"]!["passwordCredentials"]!.AsArray())!;
        Assert.Equal(keyId, S(credential, "keyId"));
        Assert.Equal("ci", S(credential, "displayName"));
        Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        Assert.DoesNotContain("pbkdf2", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("hash", text, StringComparison.OrdinalIgnoreCase);

        var appId = S(fetched!, "properties", "appId");
        var token = await ClientTokenAsync(fixture.Credentials, appId, secret);
        var (whoStatus, _, who) = await WhoAmIAsync(fixture.Credentials, token);
        Assert.Equal(HttpStatusCode.OK, whoStatus);
        Assert.Equal(S(fetched!, "properties", "objectId"), S(JsonNode.Parse(who)!, "objectId"));
    }

    [Fact]
    public async Task List_IncludesTheBootstrapAdmin_AndPagesWithNextLink()
    {
        await SendAsync(Http, HttpMethod.Put, $"{Root}/servicePrincipals/{ServerFixture.UniqueName("sp")}?{ApiVersion}", """{"properties":{}}""");
        var seen = new List<JsonNode>();
        string? next = $"{Root}/servicePrincipals?{ApiVersion}&$top=1";
        while (next is not null)
        {
            var (status, page, text) = await SendAsync(Http, HttpMethod.Get, next);
            Assert.True(status == HttpStatusCode.OK, text);
            Assert.True(page!["value"]!.AsArray().Count <= 1);
            seen.AddRange(page["value"]!.AsArray().Select(v => v!));
            next = page["nextLink"]?.GetValue<string>();
        }

        Assert.True(seen.Count >= 2);
        var admin = Assert.Single(seen, p => S(p, "properties", "appId") == fixture.Credentials.ClientId);
        Assert.Equal("bootstrap-admin", S(admin, "name"));
        Assert.Equal(fixture.Credentials.ObjectId, S(admin, "properties", "objectId"));
        Assert.Equal(seen.Count, seen.Select(p => S(p, "name")).Distinct().Count());
    }

    [Fact]
    public async Task Delete_Returns200ThenAbsent204_AndGetAnswers404()
    {
        var name = ServerFixture.UniqueName("sp");
        await SendAsync(Http, HttpMethod.Put, $"{Root}/servicePrincipals/{name}?{ApiVersion}", """{"properties":{}}""");

        var (first, _, _) = await SendAsync(Http, HttpMethod.Delete, $"{Root}/servicePrincipals/{name}?{ApiVersion}");
        var (second, _, _) = await SendAsync(Http, HttpMethod.Delete, $"{Root}/servicePrincipals/{name}?{ApiVersion}");
        using var response = await Http.GetAsync($"{Root}/servicePrincipals/{name}?{ApiVersion}");
        var (status, code, _) = await Envelope.ReadAsync(response);

        Assert.Equal(HttpStatusCode.OK, first);
        Assert.Equal(HttpStatusCode.NoContent, second);
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("ResourceNotFound", code);
    }

    [Fact]
    public async Task Delete_TheCallerItself_Returns409AndKeepsIt()
    {
        using var response = await Http.DeleteAsync($"{Root}/servicePrincipals/bootstrap-admin?{ApiVersion}");
        var (status, code, _) = await Envelope.ReadAsync(response);
        var (after, _, _) = await SendAsync(Http, HttpMethod.Get, $"{Root}/servicePrincipals/bootstrap-admin?{ApiVersion}");

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("CannotDeleteSelf", code);
        Assert.Equal(HttpStatusCode.OK, after);
    }

    [Fact]
    public async Task RemovePassword_Returns204_ThenTheSecretNoLongerSignsIn()
    {
        var name = ServerFixture.UniqueName("sp");
        var (appId, _, secret, keyId) = await CreateServicePrincipalAsync(Http, name);

        var (status, _, _) = await SendAsync(Http, HttpMethod.Post, $"{Root}/servicePrincipals/{name}/removePassword?{ApiVersion}", $$$"""{"keyId":"{{{keyId}}}"}""");
        var (again, _, _) = await SendAsync(Http, HttpMethod.Post, $"{Root}/servicePrincipals/{name}/removePassword?{ApiVersion}", $$$"""{"keyId":"{{{keyId}}}"}""");

        Assert.Equal(HttpStatusCode.NoContent, status);
        Assert.Equal(HttpStatusCode.NotFound, again);
        await Assert.ThrowsAsync<Azure.Identity.AuthenticationFailedException>(() => ClientTokenAsync(fixture.Credentials, appId, secret));
    }

    [Theory]
    [InlineData("bad%20name", """{"properties":{}}""", HttpStatusCode.BadRequest, "InvalidResourceName")]
    [InlineData("-leading", """{"properties":{}}""", HttpStatusCode.BadRequest, "InvalidResourceName")]
    [InlineData("ok-name", """{}""", HttpStatusCode.BadRequest, "InvalidRequestContent")]
    [InlineData("ok-name", """{"properties":[]}""", HttpStatusCode.BadRequest, "InvalidRequestContent")]
    [InlineData("ok-name", """{"properties":{"displayName":5}}""", HttpStatusCode.BadRequest, "InvalidRequestContent")]
    [InlineData("ok-name", """{"properties":{"displayName":"  "}}""", HttpStatusCode.BadRequest, "InvalidParameter")]
    [InlineData("ok-name", """{"properties":""", HttpStatusCode.BadRequest, "InvalidRequestContent")]
    public async Task Put_BadInput_Returns4xxEnvelopeAndWritesNothing(string name, string body, HttpStatusCode expected, string expectedCode)
    {
        var unique = name == "ok-name" ? ServerFixture.UniqueName("bad") : name;
        using var response = await Http.PutAsync($"{Root}/servicePrincipals/{unique}?{ApiVersion}", Clients.Json(body));
        var (status, code, _) = await Envelope.ReadAsync(response);

        Assert.Equal(expected, status);
        Assert.Equal(expectedCode, code);
        if (name == "ok-name")
        {
            var (after, _, _) = await SendAsync(Http, HttpMethod.Get, $"{Root}/servicePrincipals/{unique}?{ApiVersion}");
            Assert.Equal(HttpStatusCode.NotFound, after);
        }
    }

    [Theory]
    [InlineData("api-version=2022-09-01", "InvalidApiVersionParameter")]
    [InlineData("", "MissingApiVersionParameter")]
    public async Task WrongApiVersion_Returns400(string query, string expectedCode)
    {
        using var response = await Http.GetAsync($"{Root}/servicePrincipals?{query}");
        var (status, code, _) = await Envelope.ReadAsync(response);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(expectedCode, code);
    }

    [Theory]
    [InlineData("""{"endDateTime":"yesterday"}""")]
    [InlineData("""{"endDateTime":"2001-01-01T00:00:00Z"}""")]
    [InlineData("""{"displayName":7}""")]
    [InlineData("""[1]""")]
    public async Task AddPassword_BadBody_Returns400AndAddsNothing(string body)
    {
        var name = ServerFixture.UniqueName("sp");
        await SendAsync(Http, HttpMethod.Put, $"{Root}/servicePrincipals/{name}?{ApiVersion}", """{"properties":{}}""");
        using var response = await Http.PostAsync($"{Root}/servicePrincipals/{name}/addPassword?{ApiVersion}", Clients.Json(body));
        var (status, _, _) = await Envelope.ReadAsync(response);
        var (_, fetched, _) = await SendAsync(Http, HttpMethod.Get, $"{Root}/servicePrincipals/{name}?{ApiVersion}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Empty(fetched!["properties"]!["passwordCredentials"]!.AsArray());
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"keyId":"not-a-guid"}""")]
    [InlineData("""{"keyId":42}""")]
    public async Task RemovePassword_BadKeyId_Returns400(string body)
    {
        using var response = await Http.PostAsync($"{Root}/servicePrincipals/bootstrap-admin/removePassword?{ApiVersion}", Clients.Json(body));
        var (status, code, _) = await Envelope.ReadAsync(response);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", code);
    }

    [Fact]
    public async Task AddPassword_UnknownPrincipal_Returns404()
    {
        using var response = await Http.PostAsync($"{Root}/servicePrincipals/{ServerFixture.UniqueName("none")}/addPassword?{ApiVersion}", Clients.Json("{}"));
        var (status, code, _) = await Envelope.ReadAsync(response);
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("ResourceNotFound", code);
    }

    [Fact]
    public async Task ProviderDiscovery_ListsTheIdentityTypesAtTenantLevel()
    {
        var (status, provider, text) = await SendAsync(Http, HttpMethod.Get, "providers/Holdfast.Identity?api-version=2022-09-01");
        Assert.True(status == HttpStatusCode.OK, text);
        var types = provider!["resourceTypes"]!.AsArray().ToDictionary(t => S(t!, "resourceType"), t => t!["apiVersions"]!.AsArray().Select(v => v!.GetValue<string>()).ToList());
        Assert.Equal(["groups", "servicePrincipals", "users"], types.Keys.Order(StringComparer.Ordinal));
        Assert.All(types.Values, versions => Assert.Contains("2025-01-01", versions));
    }
}
