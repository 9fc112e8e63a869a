using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Server.IntegrationTests.Infrastructure;
using static Holdfast.Server.IntegrationTests.Identity.IdentityCalls;

namespace Holdfast.Server.IntegrationTests.Identity;

/// <summary>
/// Users (password policy, the password grant, a password change or deletion refusing older tokens, nothing secret in
/// responses) and groups (members must be existing principals).
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class UserAndGroupApiTests(ServerFixture fixture)
{
    private const string Password = "Correct-Horse-9";

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task CreateUser_SignInWithPassword_TokenNamesTheUser()
    {
        var name = ServerFixture.UniqueName("alice");
        var (status, created, text) = await SendAsync(Http, HttpMethod.Put, $"{Root}/users/{name}?{ApiVersion}", $$$"""{"properties":{"displayName":"Alice","password":"{{{Password}}}"}}""");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.DoesNotContain(Password, text, StringComparison.Ordinal);
        Assert.DoesNotContain("hash", text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("Holdfast.Identity/users", S(created!, "type"));

        var (tokenStatus, token) = await UserTokenAsync(fixture.Credentials, name + "@holdfast.local", Password);
        Assert.Equal(HttpStatusCode.OK, tokenStatus);
        var (whoStatus, _, who) = await WhoAmIAsync(fixture.Credentials, token);
        Assert.Equal(HttpStatusCode.OK, whoStatus);
        Assert.Equal(S(created!, "properties", "objectId"), S(JsonNode.Parse(who)!, "objectId"));
        Assert.Equal("Alice", S(JsonNode.Parse(who)!, "displayName"));

        var (_, fetched, fetchedText) = await SendAsync(Http, HttpMethod.Get, $"{Root}/users/{name}?{ApiVersion}");
        Assert.Equal(S(created!, "properties", "objectId"), S(fetched!, "properties", "objectId"));
        Assert.DoesNotContain("password\"", fetchedText, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task AUsersWrite_NamesTheUserInSystemData_AsAzureDoes()
    {
        var name = ServerFixture.UniqueName("writer");
        var (status, created, _) = await SendAsync(Http, HttpMethod.Put, $"{Root}/users/{name}?{ApiVersion}", $$$"""{"properties":{"displayName":"Writer","password":"{{{Password}}}"}}""");
        Assert.Equal(HttpStatusCode.Created, status);
        var subscription = fixture.Credentials.SubscriptionId;
        await Authorization.Rbac.AssignAsync(fixture, $"/subscriptions/{subscription}", Authorization.Rbac.Contributor, S(created!, "properties", "objectId"));
        var (tokenStatus, token) = await UserTokenAsync(fixture.Credentials, name + "@holdfast.local", Password);
        Assert.Equal(HttpStatusCode.OK, tokenStatus);
        using var http = Clients.Http(fixture.Credentials);
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);

        var group = ServerFixture.UniqueName("rg-user");
        var (groupStatus, written, text) = await SendAsync(http, HttpMethod.Put, $"subscriptions/{subscription}/resourcegroups/{group}?api-version=2022-09-01", """{"location":"local"}""");

        Assert.True(groupStatus == HttpStatusCode.Created, text);
        Assert.Equal("User", S(written!, "systemData", "createdByType"));
        Assert.Equal(name, S(written!, "systemData", "createdBy"), StringComparer.OrdinalIgnoreCase);
        Assert.Equal("User", S(written!, "systemData", "lastModifiedByType"));
    }

    [Fact]
    public async Task WrongPasswordOrUnknownUser_GetTheSameInvalidGrant()
    {
        var name = ServerFixture.UniqueName("bob");
        await SendAsync(Http, HttpMethod.Put, $"{Root}/users/{name}?{ApiVersion}", $$$"""{"properties":{"password":"{{{Password}}}"}}""");

        var (wrongStatus, wrong) = await UserTokenAsync(fixture.Credentials, name, "Wrong-Horse-9");
        var (unknownStatus, unknown) = await UserTokenAsync(fixture.Credentials, ServerFixture.UniqueName("nobody"), Password);

        Assert.Equal(HttpStatusCode.BadRequest, wrongStatus);
        Assert.Equal(HttpStatusCode.BadRequest, unknownStatus);
        Assert.Equal("invalid_grant", S(JsonNode.Parse(wrong)!, "error"));
        Assert.Equal("invalid_grant", S(JsonNode.Parse(unknown)!, "error"));
        Assert.Contains("50126", wrong, StringComparison.Ordinal);
        Assert.Contains("50126", unknown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PasswordChange_RefusesOlderTokens_AndTheNewPasswordSignsIn()
    {
        var name = ServerFixture.UniqueName("carol");
        await SendAsync(Http, HttpMethod.Put, $"{Root}/users/{name}?{ApiVersion}", $$$"""{"properties":{"password":"{{{Password}}}"}}""");
        var (_, oldToken) = await UserTokenAsync(fixture.Credentials, name, Password);
        Assert.Equal(HttpStatusCode.OK, (await WhoAmIAsync(fixture.Credentials, oldToken)).Status);

        var (changed, _, _) = await SendAsync(Http, HttpMethod.Put, $"{Root}/users/{name}?{ApiVersion}", """{"properties":{"password":"Another-Horse-10"}}""");
        var refused = await WhoAmIAsync(fixture.Credentials, oldToken);
        var (oldPasswordStatus, _) = await UserTokenAsync(fixture.Credentials, name, Password);
        var (newPasswordStatus, newToken) = await UserTokenAsync(fixture.Credentials, name, "Another-Horse-10");

        Assert.Equal(HttpStatusCode.OK, changed);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.Equal("InvalidAuthenticationToken", refused.Code);
        Assert.Equal(HttpStatusCode.BadRequest, oldPasswordStatus);
        Assert.Equal(HttpStatusCode.OK, newPasswordStatus);
        Assert.Equal(HttpStatusCode.OK, (await WhoAmIAsync(fixture.Credentials, newToken)).Status);
    }

    [Fact]
    public async Task DisplayNameChange_KeepsTokensValid()
    {
        var name = ServerFixture.UniqueName("dave");
        await SendAsync(Http, HttpMethod.Put, $"{Root}/users/{name}?{ApiVersion}", $$$"""{"properties":{"password":"{{{Password}}}"}}""");
        var (_, token) = await UserTokenAsync(fixture.Credentials, name, Password);

        var (status, _, _) = await SendAsync(Http, HttpMethod.Put, $"{Root}/users/{name}?{ApiVersion}", """{"properties":{"displayName":"Dave"}}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, (await WhoAmIAsync(fixture.Credentials, token)).Status);
    }

    [Fact]
    public async Task DeletedUser_TokenRefused_AndListNoLongerHasIt()
    {
        var name = ServerFixture.UniqueName("erin");
        await SendAsync(Http, HttpMethod.Put, $"{Root}/users/{name}?{ApiVersion}", $$$"""{"properties":{"password":"{{{Password}}}"}}""");
        var (_, token) = await UserTokenAsync(fixture.Credentials, name, Password);

        var (deleted, _, _) = await SendAsync(Http, HttpMethod.Delete, $"{Root}/users/{name}?{ApiVersion}");
        var (again, _, _) = await SendAsync(Http, HttpMethod.Delete, $"{Root}/users/{name}?{ApiVersion}");
        var refused = await WhoAmIAsync(fixture.Credentials, token);
        var (_, list, _) = await SendAsync(Http, HttpMethod.Get, $"{Root}/users?{ApiVersion}");

        Assert.Equal(HttpStatusCode.OK, deleted);
        Assert.Equal(HttpStatusCode.NoContent, again);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.DoesNotContain(list!["value"]!.AsArray(), u => S(u!, "name") == name);
    }

    [Theory]
    [InlineData("short1A")]
    [InlineData("alllowercaseletters")]
    [InlineData("")]
    public async Task CreateUser_WeakPassword_Returns400AndCreatesNothing(string password)
    {
        var name = ServerFixture.UniqueName("weak");
        using var response = await Http.PutAsync($"{Root}/users/{name}?{ApiVersion}", Clients.Json($$$"""{"properties":{"password":"{{{password}}}"}}"""));
        var (status, _, message) = await Envelope.ReadAsync(response);
        var (after, _, _) = await SendAsync(Http, HttpMethod.Get, $"{Root}/users/{name}?{ApiVersion}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.DoesNotContain(password.Length > 0 ? password : "\u0000", message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, after);
    }

    [Fact]
    public async Task CreateUser_WithoutPassword_Returns400()
    {
        using var response = await Http.PutAsync($"{Root}/users/{ServerFixture.UniqueName("nopw")}?{ApiVersion}", Clients.Json("""{"properties":{"displayName":"No password"}}"""));
        var (status, code, _) = await Envelope.ReadAsync(response);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameter", code);
    }

    [Fact]
    public async Task Group_WithExistingMembers_IsServedWithThem_AndUpdatesReplaceThem()
    {
        var (_, sp, _, _) = await CreateServicePrincipalAsync(Http, ServerFixture.UniqueName("member"));
        var user = ServerFixture.UniqueName("member");
        var (_, created, _) = await SendAsync(Http, HttpMethod.Put, $"{Root}/users/{user}?{ApiVersion}", $$$"""{"properties":{"password":"{{{Password}}}"}}""");
        var userId = S(created!, "properties", "objectId");
        var name = ServerFixture.UniqueName("readers");

        var (status, group, text) = await SendAsync(Http, HttpMethod.Put, $"{Root}/groups/{name}?{ApiVersion}", $$$"""{"properties":{"displayName":"Readers","members":["{{{sp}}}","{{{userId}}}"]}}""");
        Assert.True(status == HttpStatusCode.Created, text);
        Assert.Equal("Holdfast.Identity/groups", S(group!, "type"));
        Assert.Equal([sp, userId], group!["properties"]!["members"]!.AsArray().Select(m => m!.GetValue<string>()));

        var (updated, after, _) = await SendAsync(Http, HttpMethod.Put, $"{Root}/groups/{name}?{ApiVersion}", $$$"""{"properties":{"members":["{{{userId}}}"]}}""");
        Assert.Equal(HttpStatusCode.OK, updated);
        Assert.Equal(S(group!, "properties", "objectId"), S(after!, "properties", "objectId"));
        Assert.Equal([userId], after!["properties"]!["members"]!.AsArray().Select(m => m!.GetValue<string>()));

        var (_, list, _) = await SendAsync(Http, HttpMethod.Get, $"{Root}/groups?{ApiVersion}");
        Assert.Contains(list!["value"]!.AsArray(), g => S(g!, "name") == name);
        var (deleted, _, _) = await SendAsync(Http, HttpMethod.Delete, $"{Root}/groups/{name}?{ApiVersion}");
        Assert.Equal(HttpStatusCode.OK, deleted);
    }

    [Theory]
    [InlineData("""{"properties":{"members":"x"}}""", "InvalidRequestContent")]
    [InlineData("""{"properties":{"members":[5]}}""", "InvalidParameter")]
    [InlineData("""{"properties":{"members":["00000000-0000-0000-0000-000000000001"]}}""", "PrincipalNotFound")]
    public async Task Group_BadMembers_Returns400AndCreatesNothing(string body, string expectedCode)
    {
        var name = ServerFixture.UniqueName("grp");
        using var response = await Http.PutAsync($"{Root}/groups/{name}?{ApiVersion}", Clients.Json(body));
        var (status, code, _) = await Envelope.ReadAsync(response);
        var (after, _, _) = await SendAsync(Http, HttpMethod.Get, $"{Root}/groups/{name}?{ApiVersion}");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(expectedCode, code);
        Assert.Equal(HttpStatusCode.NotFound, after);
    }

    [Fact]
    public async Task UserRealm_AnswersManagedAnonymously_AsMsalExpectsBeforeAPasswordGrant()
    {
        using var http = Clients.Http(fixture.Credentials);
        using var response = await http.GetAsync("common/userrealm/alice@holdfast.local?api-version=1.0");
        var realm = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Managed", S(realm, "account_type"));
        Assert.Equal("holdfast.local", S(realm, "domain_name"));
    }

    [Fact]
    public async Task AzureSdkUsernamePasswordCredential_SignsInAUser()
    {
        var name = ServerFixture.UniqueName("sdkuser");
        var (_, created, _) = await SendAsync(Http, HttpMethod.Put, $"{Root}/users/{name}?{ApiVersion}", $$$"""{"properties":{"password":"{{{Password}}}"}}""");
        var c = fixture.Credentials;
#pragma warning disable CS0618 // The resource-owner password flow is deprecated in Entra ID, and it is what az login -u uses.
        var credential = new Azure.Identity.UsernamePasswordCredential(name + "@holdfast.local", Password, c.TenantId, "04b07795-8ddb-461a-bbee-02f9e1bf7b46", new Azure.Identity.UsernamePasswordCredentialOptions
        {
            AuthorityHost = c.Endpoint,
            DisableInstanceDiscovery = true,
            Transport = new Azure.Core.Pipeline.HttpClientTransport(Clients.TrustingHandler(c.CaCertificatePath)),
            Retry = { MaxRetries = 0 },
        });
#pragma warning restore CS0618

        var token = await credential.GetTokenAsync(new Azure.Core.TokenRequestContext([c.Audience + "/.default"]), CancellationToken.None);
        var (status, _, who) = await WhoAmIAsync(c, token.Token);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(S(created!, "properties", "objectId"), S(JsonNode.Parse(who)!, "objectId"));
    }
}
