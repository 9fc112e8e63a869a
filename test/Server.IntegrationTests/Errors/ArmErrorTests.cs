using System.Net;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.ResourceManager.Resources;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Errors;

/// <summary>
/// One negative test per ARM error code: each bad request gets the ARM envelope with the right 4xx and code, and
/// leaves nothing behind. Where the official SDK can send the request, it does; raw HTTP covers the rest.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ArmErrorTests(ServerFixture fixture)
{
    private string Subscription => fixture.Credentials.SubscriptionId;

    [Fact]
    public async Task MissingApiVersion_Returns400MissingApiVersionParameter()
    {
        var (status, code, _) = await SendAsync(HttpMethod.Get, $"subscriptions/{Subscription}/resourcegroups");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("MissingApiVersionParameter", code);
    }

    [Fact]
    public async Task UnsupportedApiVersion_Returns400InvalidApiVersionParameter()
    {
        var (status, code, message) = await SendAsync(HttpMethod.Get, $"subscriptions/{Subscription}/resourcegroups?api-version=2099-01-01");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidApiVersionParameter", code);
        Assert.Contains("2022-09-01", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProviderTypeWithUnsupportedApiVersion_Returns400NoRegisteredProviderFound()
    {
        var group = await CreateGroupAsync("norp");
        var (status, code, _) = await SendAsync(HttpMethod.Put, $"subscriptions/{Subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/v1?api-version=2099-01-01", VnetBody);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("NoRegisteredProviderFound", code);
        await AssertAbsentAsync($"subscriptions/{Subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/v1?api-version=2023-09-01");
    }

    [Fact]
    public async Task UnknownSubscription_ThroughSdk_Returns404SubscriptionNotFound()
    {
        var unknown = fixture.Arm.GetSubscriptionResource(new ResourceIdentifier("/subscriptions/" + Guid.NewGuid()));
        var error = await Assert.ThrowsAsync<RequestFailedException>(() => unknown.GetAsync());
        Assert.Equal(404, error.Status);
        Assert.Equal("SubscriptionNotFound", error.ErrorCode);
    }

    [Fact]
    public async Task MissingResourceGroup_ThroughSdk_Returns404ResourceGroupNotFound()
    {
        var groups = (await fixture.Arm.GetDefaultSubscriptionAsync()).GetResourceGroups();
        var error = await Assert.ThrowsAsync<RequestFailedException>(() => groups.GetAsync("does-not-exist-" + Guid.NewGuid().ToString("N")[..6]));
        Assert.Equal(404, error.Status);
        Assert.Equal("ResourceGroupNotFound", error.ErrorCode);
    }

    [Fact]
    public async Task MissingResource_Returns404ResourceNotFound()
    {
        var group = await CreateGroupAsync("nores");
        var (status, code, _) = await SendAsync(HttpMethod.Get, $"subscriptions/{Subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/nope?api-version=2023-09-01");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("ResourceNotFound", code);
    }

    [Fact]
    public async Task BadResourceName_Returns400InvalidResourceNameAndWritesNothing()
    {
        var group = await CreateGroupAsync("badname");
        var (status, code, _) = await SendAsync(HttpMethod.Put, $"subscriptions/{Subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/-bad?api-version=2023-09-01", VnetBody);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidResourceName", code);
        await AssertAbsentAsync($"subscriptions/{Subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/-bad?api-version=2023-09-01");
    }

    [Fact]
    public async Task BadResourceGroupName_ThroughSdk_Returns400InvalidResourceGroup()
    {
        var groups = (await fixture.Arm.GetDefaultSubscriptionAsync()).GetResourceGroups();
        var error = await Assert.ThrowsAsync<RequestFailedException>(() => groups.CreateOrUpdateAsync(WaitUntil.Completed, "bad*name", new ResourceGroupData(new AzureLocation("local"))));
        Assert.Equal(400, error.Status);
        Assert.Equal("InvalidResourceGroup", error.ErrorCode);
    }

    [Fact]
    public async Task MissingLocation_Returns400LocationRequired()
    {
        var name = ServerFixture.UniqueName("noloc");
        var (status, code, _) = await SendAsync(HttpMethod.Put, $"subscriptions/{Subscription}/resourcegroups/{name}?api-version=2022-09-01", """{"tags":{}}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("LocationRequired", code);
        await AssertAbsentAsync($"subscriptions/{Subscription}/resourcegroups/{name}?api-version=2022-09-01");
    }

    [Fact]
    public async Task StaleIfMatch_Returns412PreconditionFailedAndKeepsTheResource()
    {
        var group = await CreateGroupAsync("etag");
        var path = $"subscriptions/{Subscription}/resourcegroups/{group}?api-version=2022-09-01";
        using var get = await fixture.Http.GetAsync(path);
        var etag = get.Headers.ETag!.ToString();

        using var stale = new HttpRequestMessage(HttpMethod.Patch, path) { Content = Clients.Json("""{"tags":{"a":"1"}}""") };
        stale.Headers.TryAddWithoutValidation("If-Match", "W/\"1\"");
        var (status, code, _) = await SendAsync(stale);
        Assert.Equal(HttpStatusCode.PreconditionFailed, status);
        Assert.Equal("PreconditionFailed", code);

        using var fresh = new HttpRequestMessage(HttpMethod.Patch, path) { Content = Clients.Json("""{"tags":{"a":"2"}}""") };
        fresh.Headers.TryAddWithoutValidation("If-Match", etag);
        using var ok = await fixture.Http.SendAsync(fresh);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        using var create = new HttpRequestMessage(HttpMethod.Put, path) { Content = Clients.Json("""{"location":"local"}""") };
        create.Headers.TryAddWithoutValidation("If-None-Match", "*");
        var (createStatus, createCode, _) = await SendAsync(create);
        Assert.Equal(HttpStatusCode.PreconditionFailed, createStatus);
        Assert.Equal("PreconditionFailed", createCode);
    }

    [Theory]
    [InlineData("{\"location\":")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"location\":\"local\",}")]
    [InlineData("{\"location\":42}")]
    public async Task MalformedBody_Returns400InvalidRequestContentAndWritesNothing(string body)
    {
        var name = ServerFixture.UniqueName("badjson");
        var (status, code, _) = await SendAsync(HttpMethod.Put, $"subscriptions/{Subscription}/resourcegroups/{name}?api-version=2022-09-01", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidRequestContent", code);
        await AssertAbsentAsync($"subscriptions/{Subscription}/resourcegroups/{name}?api-version=2022-09-01");
    }

    [Fact]
    public async Task NonJsonContentType_Returns415UnsupportedMediaType()
    {
        var name = ServerFixture.UniqueName("media");
        using var request = new HttpRequestMessage(HttpMethod.Put, $"subscriptions/{Subscription}/resourcegroups/{name}?api-version=2022-09-01")
        {
            Content = new StringContent("""{"location":"local"}""", Encoding.UTF8, "text/plain"),
        };
        var (status, code, _) = await SendAsync(request);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Equal("UnsupportedMediaType", code);
    }

    [Fact]
    public async Task BodyOver4MB_Returns413RequestEntityTooLarge()
    {
        var name = ServerFixture.UniqueName("big");
        var body = "{\"location\":\"local\",\"tags\":{\"x\":\"" + new string('a', (4 * 1024 * 1024) + 10) + "\"}}";
        // Expect: 100-continue lets the server refuse before the body is sent, as a well-behaved client would.
        using var request = new HttpRequestMessage(HttpMethod.Put, $"subscriptions/{Subscription}/resourcegroups/{name}?api-version=2022-09-01") { Content = Clients.Json(body) };
        request.Headers.ExpectContinue = true;
        var (status, code, _) = await SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("RequestEntityTooLarge", code);
        await AssertAbsentAsync($"subscriptions/{Subscription}/resourcegroups/{name}?api-version=2022-09-01");
    }

    [Fact]
    public async Task TooManyTags_Returns400WithTagCodeAndWritesNothing()
    {
        var name = ServerFixture.UniqueName("tags");
        var tags = string.Join(',', Enumerable.Range(0, 51).Select(i => $"\"t{i}\":\"v\""));
        var (status, code, _) = await SendAsync(HttpMethod.Put, $"subscriptions/{Subscription}/resourcegroups/{name}?api-version=2022-09-01", "{\"location\":\"local\",\"tags\":{" + tags + "}}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidTagCount", code);
        await AssertAbsentAsync($"subscriptions/{Subscription}/resourcegroups/{name}?api-version=2022-09-01");
    }

    [Fact]
    public async Task UnknownRoute_Returns404Envelope()
    {
        var (status, code, _) = await SendAsync(HttpMethod.Get, "no/such/route?api-version=2022-09-01");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("NotFound", code);
    }

    [Fact]
    public async Task UnknownNamespaceAndType_Return404WithArmCodes()
    {
        var group = await CreateGroupAsync("types");
        var (nsStatus, nsCode, _) = await SendAsync(HttpMethod.Get, $"subscriptions/{Subscription}/resourceGroups/{group}/providers/Contoso.Nothing/things/a?api-version=2023-09-01");
        Assert.Equal(HttpStatusCode.NotFound, nsStatus);
        Assert.Equal("InvalidResourceNamespace", nsCode);
        var (typeStatus, typeCode, _) = await SendAsync(HttpMethod.Get, $"subscriptions/{Subscription}/resourceGroups/{group}/providers/Microsoft.Network/unicorns/a?api-version=2023-09-01");
        Assert.Equal(HttpStatusCode.NotFound, typeStatus);
        Assert.Equal("InvalidResourceType", typeCode);
    }

    [Fact]
    public async Task WrongMethod_Returns405Envelope()
    {
        var (status, code, _) = await SendAsync(HttpMethod.Post, $"subscriptions/{Subscription}?api-version=2022-12-01", "{}");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, status);
        Assert.Equal("MethodNotAllowed", code);
    }

    [Fact]
    public async Task UnregisteredProvider_Returns409MissingSubscriptionRegistrationUntilRegistered()
    {
        var group = await CreateGroupAsync("unreg");
        var path = $"subscriptions/{Subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/v1?api-version=2023-09-01";
        var subscription = await fixture.Arm.GetDefaultSubscriptionAsync();
        var provider = (await subscription.GetResourceProviderAsync("Microsoft.Network")).Value;
        try
        {
            var unregistered = await provider.UnregisterAsync();
            Assert.Equal("NotRegistered", unregistered.Value.Data.RegistrationState);
            var (status, code, _) = await SendAsync(HttpMethod.Put, path, VnetBody);
            Assert.Equal(HttpStatusCode.Conflict, status);
            Assert.Equal("MissingSubscriptionRegistration", code);
        }
        finally
        {
            await provider.RegisterAsync();
        }

        using var response = await fixture.Http.PutAsync(path, Clients.Json(VnetBody));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task InvalidVirtualNetwork_ReturnsEveryProblemAtOnce()
    {
        var group = await CreateGroupAsync("vnetbad");
        var body = """{"location":"local","properties":{"addressSpace":{"addressPrefixes":["10.0.0.1/16"]},"subnets":[{"name":"a","properties":{"addressPrefix":"192.168.0.0/24"}},{"name":"a","properties":{"addressPrefix":"nope"}}]}}""";
        using var response = await fixture.Http.PutAsync($"subscriptions/{Subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/v1?api-version=2023-09-01", Clients.Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var details = document.RootElement.GetProperty("error").GetProperty("details").EnumerateArray().Select(d => d.GetProperty("code").GetString()).ToList();
        Assert.Contains("InvalidCIDRNotation", details);
        Assert.Contains("InvalidAddressPrefixFormat", details);
        Assert.Contains("DuplicateResourceName", details);
        Assert.True(details.Count >= 3);
    }

    private const string VnetBody = """{"location":"local","properties":{"addressSpace":{"addressPrefixes":["10.9.0.0/16"]}}}""";

    private async Task<string> CreateGroupAsync(string prefix)
    {
        var name = ServerFixture.UniqueName(prefix);
        using var response = await fixture.Http.PutAsync($"subscriptions/{Subscription}/resourcegroups/{name}?api-version=2022-09-01", Clients.Json("""{"location":"local"}"""));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return name;
    }

    private async Task AssertAbsentAsync(string path)
    {
        using var response = await fixture.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private Task<(HttpStatusCode Status, string? Code, string Message)> SendAsync(HttpMethod method, string path, string? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = Clients.Json(body);
        }

        return SendAsync(request);
    }

    private async Task<(HttpStatusCode Status, string? Code, string Message)> SendAsync(HttpRequestMessage request)
    {
        using (request)
        {
            using var response = await fixture.Http.SendAsync(request);
            return await Envelope.ReadAsync(response);
        }
    }
}
