using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Identity;

/// <summary>Raw-HTTP helpers for the Holdfast.Identity operator APIs and the token endpoint, as an operator script would call them.</summary>
internal static class IdentityCalls
{
    public const string ApiVersion = "api-version=2025-01-01";
    public const string Root = "providers/Holdfast.Identity";

    public static async Task<(HttpStatusCode Status, JsonNode? Body, string Text)> SendAsync(HttpClient http, HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = Clients.Json(body);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text), text);
    }

    /// <summary>Creates a service principal with a password; returns its ids and the secret.</summary>
    public static async Task<(string AppId, string ObjectId, string Secret, string KeyId)> CreateServicePrincipalAsync(HttpClient http, string name)
    {
        var (status, created, text) = await SendAsync(http, HttpMethod.Put, $"{Root}/servicePrincipals/{name}?{ApiVersion}", """{"properties":{"displayName":"Test principal"}}""");
        Assert.True(status == HttpStatusCode.Created, text);
        var (passwordStatus, password, passwordText) = await SendAsync(http, HttpMethod.Post, $"{Root}/servicePrincipals/{name}/addPassword?{ApiVersion}", "{}");
        Assert.True(passwordStatus == HttpStatusCode.OK, passwordText);
        return (S(created!, "properties", "appId"), S(created!, "properties", "objectId"), S(password!, "secretText"), S(password!, "keyId"));
    }

    public static Task<string> ClientTokenAsync(ServerCredentials server, string appId, string secret) =>
        Clients.TokenAsync(server with { ClientId = appId, ClientSecret = secret });

    /// <summary>The password grant, as <c>az login -u</c> sends it; returns the HTTP status and the token (or the error body).</summary>
    public static async Task<(HttpStatusCode Status, string TokenOrError)> UserTokenAsync(ServerCredentials server, string userName, string password)
    {
        using var http = Clients.Http(server);
        using var response = await http.PostAsync($"{server.TenantId}/oauth2/v2.0/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["client_id"] = "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            ["username"] = userName,
            ["password"] = password,
            ["scope"] = server.Audience + "/.default",
        }));
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode ? (response.StatusCode, JsonNode.Parse(text)!["access_token"]!.GetValue<string>()) : (response.StatusCode, text);
    }

    /// <summary>Calls <c>/holdfast/whoami</c> with a token; returns the status, the error code and the body.</summary>
    public static async Task<(HttpStatusCode Status, string? Code, string Message)> WhoAmIAsync(ServerCredentials server, string token)
    {
        using var http = Clients.Http(server);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.GetAsync("holdfast/whoami");
        return await Envelope.ReadAsync(response);
    }

    public static string S(JsonNode node, params string[] path)
    {
        var current = node;
        foreach (var segment in path)
        {
            current = current?[segment];
        }

        return current?.GetValue<string>() ?? throw new InvalidOperationException($"No '{string.Join('.', path)}' in {node.ToJsonString()}");
    }
}
