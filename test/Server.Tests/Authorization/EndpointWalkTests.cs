using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Server.Arm;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Hosting;
using Holdfast.State;
using Holdfast.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;

namespace Holdfast.Server.Tests.Authorization;

/// <summary>
/// Walks every endpoint the server maps (read from its route table, so a new endpoint is walked without editing this
/// test) with a signed-in principal that holds no role: each non-anonymous endpoint must answer 403
/// <c>AuthorizationFailed</c> for every method it maps — proof that it authorizes before it reads or writes — except the
/// subscriptions list Azure serves to any caller, and operation polls, which answer 404 <c>OperationNotFound</c> to a
/// caller who may not make them (the same answer as an unknown id). The real server runs in-process over
/// TLS on the in-memory store.
/// </summary>
public sealed class EndpointWalkTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _directory = new();
    private InMemoryStateStore _store = null!;
    private RunningServer _server = null!;
    private HttpClient _admin = null!;
    private HttpClient _nobody = null!;

    public async Task InitializeAsync()
    {
        var options = new HoldfastServerOptions { DataDirectory = _directory.Path, Port = FreePort(), Throttle = new ThrottleOptions { Enabled = false } };
        _store = new InMemoryStateStore(TimeProvider.System);
        _server = await HoldfastServer.StartAsync(options, DataDirectory.Open(_directory.Path), _store, TimeProvider.System, null, CancellationToken.None);
        var admin = AdminCredentials.Load(_server.DataDirectory.AdminCredentialsPath);
        _admin = await SignedInAsync(admin.ClientId, admin.ClientSecret);
        using var created = await _admin.PutAsync("providers/Holdfast.Identity/servicePrincipals/walker?api-version=2025-01-01", Json("{\"properties\":{\"displayName\":\"walker\"}}"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var appId = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["properties"]!["appId"]!.GetValue<string>();
        using var password = await _admin.PostAsync("providers/Holdfast.Identity/servicePrincipals/walker/addPassword?api-version=2025-01-01", Json("{}"));
        var secret = JsonNode.Parse(await password.Content.ReadAsStringAsync())!["secretText"]!.GetValue<string>();
        _nobody = await SignedInAsync(appId, secret);
    }

    public async Task DisposeAsync()
    {
        _nobody?.Dispose();
        _admin?.Dispose();
        await _server.DisposeAsync();
        await _store.DisposeAsync();
    }

    /// <summary>After <see cref="DisposeAsync"/>: the data directory goes once nothing holds it.</summary>
    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task EveryMappedEndpoint_CallerWithoutRoles_IsRefusedBeforeAnythingIsRead()
    {
        var sub = _server.Bootstrap.SubscriptionId;

        // Real operations, so the status monitors get as far as their authorization.
        using (var group = await _admin.PutAsync($"subscriptions/{sub}/resourcegroups/walk?api-version=2022-09-01", Json("{\"location\":\"local\"}")))
        {
            Assert.Equal(HttpStatusCode.Created, group.StatusCode);
        }

        using var vnet = await _admin.PutAsync($"subscriptions/{sub}/resourceGroups/walk/providers/Microsoft.Network/virtualNetworks/v1?api-version=2024-05-01", Json("{\"location\":\"local\",\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.0.0.0/16\"]}}}"));
        var providerOperation = new Uri(vnet.Headers.GetValues("Azure-AsyncOperation").Single()).AbsolutePath.Split('/')[^1];
        using (var doomed = await _admin.PutAsync($"subscriptions/{sub}/resourcegroups/walk-doomed?api-version=2022-09-01", Json("{\"location\":\"local\"}")))
        {
            Assert.Equal(HttpStatusCode.Created, doomed.StatusCode);
        }

        using var deleting = await _admin.DeleteAsync($"subscriptions/{sub}/resourcegroups/walk-doomed?api-version=2022-09-01");
        var groupOperation = deleting.Headers.Location!.AbsolutePath.Split('/')[^1];

        var walked = 0;
        var failures = new List<string>();
        foreach (var endpoint in _server.Endpoints.OfType<RouteEndpoint>())
        {
            var metadata = endpoint.Metadata.GetMetadata<ArmEndpointMetadata>();
            if (metadata is null || metadata.Anonymous || metadata.AuthenticatedOnly)
            {
                continue;
            }

            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [HttpMethods.Get];
            foreach (var (path, apiVersion) in Samples(endpoint.RoutePattern, metadata, sub, providerOperation, groupOperation))
            {
                foreach (var method in methods)
                {
                    if (path.Contains("/providers/Microsoft.Authorization/roleAssignments/", StringComparison.Ordinal) && method is not ("GET" or "PUT" or "DELETE"))
                    {
                        continue; // an extension path below a resource: role assignments take GET, PUT and DELETE only (405 otherwise)
                    }

                    walked++;
                    using var request = new HttpRequestMessage(new HttpMethod(method), $"{path}?api-version={apiVersion}");
                    if (method is "PUT" or "PATCH" or "POST")
                    {
                        request.Content = Json("{\"location\":\"local\",\"properties\":{}}");
                    }

                    using var response = await _nobody.SendAsync(request);
                    var body = await response.Content.ReadAsStringAsync();
                    // The subscription list is self-service; a poll the caller may not make finds no operation (as an unknown id).
                    var selfService = method == "GET" && path == "subscriptions";
                    var poll = path.Contains("/operationStatuses/", StringComparison.Ordinal) || path.Contains("/operationResults/", StringComparison.Ordinal) || path.Contains("/operationresults/", StringComparison.Ordinal);
                    var (expected, code) = selfService ? (HttpStatusCode.OK, null) : poll ? (HttpStatusCode.NotFound, "\"OperationNotFound\"") : (HttpStatusCode.Forbidden, "\"AuthorizationFailed\"");
                    if (response.StatusCode != expected || (code is not null && method != "HEAD" && !body.Contains(code, StringComparison.Ordinal)))
                    {
                        failures.Add($"{method} {path} ({endpoint.RoutePattern.RawText}) -> {(int)response.StatusCode}: {body[..Math.Min(200, body.Length)]}");
                    }
                }
            }
        }

        Assert.True(walked > 40, $"only {walked} requests walked; the route table was not read");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    /// <summary>Concrete paths for a route pattern: real subscription, group and operations; a catch-all gets every shape it serves.</summary>
    private static IEnumerable<(string Path, string ApiVersion)> Samples(RoutePattern pattern, ArmEndpointMetadata metadata, string sub, string providerOperation, string groupOperation)
    {
        var apiVersion = metadata.ApiVersions is { Count: > 0 } versions ? versions[0] : "2024-05-01";
        var catchAll = pattern.Parameters.FirstOrDefault(p => p.IsCatchAll)?.Name;
        string[] rests = catchAll is null
            ? [string.Empty]
            : pattern.Parameters.Any(p => p.Name == "resourceGroupName")
                ? ["virtualNetworks/v1", "virtualNetworks", $"virtualNetworks/v1/providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}"]
                : ["virtualNetworks", $"locations/local/operationStatuses/{providerOperation}", $"locations/local/operationResults/{providerOperation}"];
        string[] collections = pattern.Parameters.Any(p => p.Name == "collection") ? ["roleAssignments", "roleDefinitions", "permissions"] : [string.Empty];
        foreach (var rest in rests)
        {
            foreach (var collection in collections)
            {
                if (collection == "permissions" && pattern.Parameters.Any(p => p.Name == "name"))
                {
                    continue;
                }

                var segments = new List<string>();
                foreach (var segment in pattern.PathSegments)
                {
                    var text = new StringBuilder();
                    foreach (var part in segment.Parts)
                    {
                        text.Append(part switch
                        {
                            RoutePatternLiteralPart literal => literal.Content,
                            RoutePatternParameterPart { Name: "subscriptionId" } => sub,
                            RoutePatternParameterPart { Name: "resourceGroupName" } => "walk",
                            RoutePatternParameterPart { Name: "providerNamespace" } => "Microsoft.Network",
                            RoutePatternParameterPart { Name: "operationId" } => groupOperation,
                            RoutePatternParameterPart { Name: "collection" } => collection,
                            RoutePatternParameterPart { Name: "name" } when collection.Length > 0 => Guid.NewGuid().ToString(),
                            RoutePatternParameterPart { IsCatchAll: true } => rest,
                            RoutePatternParameterPart => "walk-x",
                            _ => string.Empty,
                        });
                    }

                    segments.Add(text.ToString());
                }

                var version = rest.Contains("Microsoft.Authorization", StringComparison.Ordinal) ? "2022-04-01" : apiVersion;
                yield return (string.Join('/', segments), version);
            }
        }
    }

    private Task<HttpClient> SignedInAsync(string clientId, string secret) => InProcessClients.SignedInAsync(_server, clientId, secret);

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static int FreePort() => InProcessClients.FreePort();
}
