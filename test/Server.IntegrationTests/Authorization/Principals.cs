using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Authorization;

/// <summary>A second principal made through the server's own API (as an operator would), and RBAC helpers over HTTP.</summary>
public sealed record TestPrincipal(string Name, string AppId, string ObjectId, HttpClient Http) : IDisposable
{
    public void Dispose() => Http.Dispose();
}

public static class Rbac
{
    public const string Reader = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
    public const string Contributor = "b24988ac-6180-42a0-ab88-20f7382dd24c";
    public const string Owner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
    public const string UserAccessAdministrator = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
    public const string NetworkContributor = "4d97b98b-1d4f-4787-a291-c67834d212e7";
    public const string CloudOperator = "5d3f7a0e-6c1b-4b8e-9f2a-0c4d1e7b9a31";
    public const string ApiVersion = "api-version=2022-04-01";

    /// <summary>Creates a service principal with a password (as the operator) and a client signed in as it.</summary>
    public static async Task<TestPrincipal> NewPrincipalAsync(ServerFixture fixture, string prefix = "sp")
    {
        var name = ServerFixture.UniqueName(prefix);
        using var created = await fixture.Http.PutAsync($"providers/Holdfast.Identity/servicePrincipals/{name}?api-version=2025-01-01", Clients.Json($"{{\"properties\":{{\"displayName\":\"{name}\"}}}}"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var properties = (await ReadAsync(created))["properties"]!;
        var appId = properties["appId"]!.GetValue<string>();
        var objectId = properties["objectId"]!.GetValue<string>();
        using var password = await fixture.Http.PostAsync($"providers/Holdfast.Identity/servicePrincipals/{name}/addPassword?api-version=2025-01-01", Clients.Json("{}"));
        Assert.Equal(HttpStatusCode.OK, password.StatusCode);
        var secret = (await ReadAsync(password))["secretText"]!.GetValue<string>();
        var credentials = fixture.Credentials with { ClientId = appId, ClientSecret = secret, ObjectId = objectId };
        var http = Clients.Http(credentials);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await Clients.TokenAsync(credentials));
        return new TestPrincipal(name, appId, objectId, http);
    }

    /// <summary>Assigns a role (as the admin) and returns the assignment's name.</summary>
    public static async Task<string> AssignAsync(ServerFixture fixture, string scope, string roleId, string principalId, string? principalType = null)
    {
        var name = Guid.NewGuid().ToString();
        var type = principalType is null ? string.Empty : $",\"principalType\":\"{principalType}\"";
        using var response = await fixture.Http.PutAsync(
            $"{scope.TrimStart('/')}/providers/Microsoft.Authorization/roleAssignments/{name}?{ApiVersion}",
            Clients.Json($"{{\"properties\":{{\"roleDefinitionId\":\"{RoleId(scope, roleId)}\",\"principalId\":\"{principalId}\"{type}}}}}"));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return name;
    }

    public static string RoleId(string scope, string roleId)
    {
        var parts = scope.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var prefix = parts.Length >= 2 ? $"/subscriptions/{parts[1]}" : string.Empty;
        return $"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{roleId}";
    }

    public static async Task<JsonNode> ReadAsync(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    public static async Task CreateGroupAsync(ServerFixture fixture, string name)
    {
        using var response = await fixture.Http.PutAsync($"subscriptions/{fixture.Credentials.SubscriptionId}/resourcegroups/{name}?api-version=2022-09-01", Clients.Json("{\"location\":\"local\"}"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    /// <summary>Creates a virtual network as the admin and waits until it is provisioned.</summary>
    public static async Task CreateVnetAsync(ServerFixture fixture, string group, string name)
    {
        var path = $"subscriptions/{fixture.Credentials.SubscriptionId}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{name}?api-version=2024-05-01";
        using var response = await fixture.Http.PutAsync(path, Clients.Json("{\"location\":\"local\",\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.0.0.0/16\"]}}}"));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        await WaitSucceededAsync(fixture.Http, path);
    }

    public static async Task WaitSucceededAsync(HttpClient http, string path)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            using var response = await http.GetAsync(path, timeout.Token);
            var body = await ReadAsync(response);
            if (body["properties"]?["provisioningState"]?.GetValue<string>() == "Succeeded")
            {
                return;
            }

            await Task.Delay(50, timeout.Token);
        }
    }

    /// <summary>Asserts ARM's 403 with Azure's AuthorizationFailed message naming the action and scope.</summary>
    public static async Task AssertDeniedAsync(HttpResponseMessage response, string action, TestPrincipal principal)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} -> {(int)response.StatusCode}: {text}");
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.Equal("AuthorizationFailed", error["code"]!.GetValue<string>());
        var message = error["message"]!.GetValue<string>();
        Assert.Contains($"with object id '{principal.ObjectId}' does not have authorization to perform action '{action}' over scope '", message, StringComparison.Ordinal);
        Assert.EndsWith("or the scope is invalid. If access was recently granted, please refresh your credentials.", message, StringComparison.Ordinal);
    }
}
