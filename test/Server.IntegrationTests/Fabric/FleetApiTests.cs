using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Fabric;

/// <summary>
/// The fleet and planning APIs on the real <c>holdfast serve</c> process with its simulated fleet (simulated hardware,
/// run through the same server-side agent logic as real agents): the operator sees the hosts, plans on them, and a host
/// taken through drain, maintenance and validation comes back into service when its agent reports.
/// </summary>
public sealed class FleetApiTests
{
    private const string Fabric = "providers/Holdfast.Fabric";
    private const string Capacity = "providers/Holdfast.Capacity";

    [Fact]
    public async Task SimulatedFleet_IsListedPlannedAndTakenThroughMaintenance()
    {
        await using var server = await ServerProcess.StartAsync(null, "--throttle", "off", "--simulated-hosts", "8", "--agent-port", "0");
        using var http = await Clients.AuthenticatedHttpAsync(server.Credentials);

        var hosts = await WaitForAsync(http, $"{Fabric}/hosts?state=InService", body => body["value"]!.AsArray().Count == 8);
        Assert.All(hosts["value"]!.AsArray(), h =>
        {
            Assert.True(h!["properties"]!["simulated"]!.GetValue<bool>());
            Assert.Equal("local-1", h["properties"]!["cluster"]!.GetValue<string>());
        });

        var (_, utilization) = await SendAsync(http, HttpMethod.Get, $"{Capacity}/utilization");
        var cluster = utilization!["value"]!.AsArray().Single(c => c!["cluster"]!.GetValue<string>() == "local-1")!;
        Assert.Equal(8, cluster["inServiceHosts"]!.GetValue<int>());
        Assert.Equal(256L, cluster["dimensions"]!.AsArray().Single(d => d!["name"]!.GetValue<string>() == "vCpus")!["total"]!.GetValue<long>());

        // 32 vCPUs and 128 GiB per host: 16 Standard_D2s_v3 (2 vCPUs, 8 GiB) each.
        var (whatIfStatus, whatIf) = await SendAsync(http, HttpMethod.Post, $"{Capacity}/whatIf", "{\"size\":\"Standard_D2s_v3\",\"count\":1000,\"cluster\":\"local-1\"}");
        Assert.Equal(HttpStatusCode.OK, whatIfStatus);
        Assert.Equal((1000, 128), (whatIf!["requested"]!.GetValue<int>(), whatIf["placeable"]!.GetValue<int>()));
        Assert.Equal(8, whatIf["explanation"]!["rejectedBy"]!["Capacity"]!.GetValue<int>());

        foreach (var (action, state) in new[] { ("drain", "Draining"), ("enterMaintenance", "Maintenance"), ("validate", "Validating") })
        {
            var (status, host) = await SendAsync(http, HttpMethod.Post, $"{Fabric}/hosts/sim-0001/{action}");
            Assert.True(status == HttpStatusCode.OK, host?.ToJsonString());
            Assert.Equal(state, host!["properties"]!["state"]!.GetValue<string>());
        }

        // Validation passes when the host's agent reports inventory covering its declared capacity.
        await WaitForAsync(http, $"{Fabric}/hosts/sim-0001", body => body["properties"]!["state"]!.GetValue<string>() == "InService");

        var (forecastStatus, forecast) = await SendAsync(http, HttpMethod.Get, $"{Capacity}/forecast?cluster=local-1");
        Assert.Equal(HttpStatusCode.OK, forecastStatus);
        Assert.NotNull(forecast!["value"]![0]!["insufficientHistory"]);
    }

    [Fact]
    public async Task NewHost_IsProvisioningUntilItsAgentJoins_AndItsJoinTokenIsShownOnce()
    {
        await using var server = await ServerProcess.StartAsync(null, "--throttle", "off", "--agent-port", "0");
        using var http = await Clients.AuthenticatedHttpAsync(server.Credentials);
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(http, HttpMethod.Put, $"{Fabric}/sites/hall-a", "{\"properties\":{\"displayName\":\"Hall A\"}}")).Status);
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(http, HttpMethod.Put, $"{Fabric}/clusters/c1", "{\"properties\":{\"site\":\"hall-a\",\"zone\":\"1\"}}")).Status);
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(http, HttpMethod.Put, $"{Fabric}/racks/r1", "{\"properties\":{\"cluster\":\"c1\"}}")).Status);

        var (created, host) = await SendAsync(http, HttpMethod.Put, $"{Fabric}/hosts/h1", "{\"properties\":{\"rack\":\"r1\",\"updateDomain\":0,\"capacity\":{\"vCpus\":16,\"memoryMiB\":65536,\"diskGiB\":512,\"gpus\":0},\"traits\":[\"ssd\"]}}");
        var (tokenStatus, token) = await SendAsync(http, HttpMethod.Post, $"{Fabric}/hosts/h1/createJoinToken");
        var (_, read) = await SendAsync(http, HttpMethod.Get, $"{Fabric}/hosts/h1");
        var (deleteRack, refusal) = await SendAsync(http, HttpMethod.Delete, $"{Fabric}/racks/r1");

        Assert.Equal(HttpStatusCode.Created, created);
        Assert.Equal(("Provisioning", "hall-a", "1", "r1"), (host!["properties"]!["state"]!.GetValue<string>(), host["properties"]!["site"]!.GetValue<string>(), host["properties"]!["zone"]!.GetValue<string>(), host["properties"]!["faultDomain"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.OK, tokenStatus);
        var secret = token!["joinToken"]!.GetValue<string>();
        Assert.True(secret.Length >= 32);
        Assert.DoesNotContain(secret, read!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, deleteRack);
        Assert.Equal("OperationNotAllowed", refusal!["error"]!["code"]!.GetValue<string>());
    }

    private static async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpClient http, HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path + (path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "api-version=2025-01-01");
        if (body is not null)
        {
            request.Content = Clients.Json(body);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>Polls the real process's API until <paramref name="done"/> holds (bounded; a timeout fails with the last answer).</summary>
    private static async Task<JsonNode> WaitForAsync(HttpClient http, string path, Func<JsonNode, bool> done)
    {
        var deadline = TimeProvider.System.GetUtcNow() + TimeSpan.FromSeconds(60);
        JsonNode? last = null;
        while (TimeProvider.System.GetUtcNow() < deadline)
        {
            var (status, body) = await SendAsync(http, HttpMethod.Get, path);
            last = body;
            if (status == HttpStatusCode.OK && body is not null && done(body))
            {
                return body;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }

        Assert.Fail($"GET {path} did not reach the expected state within 60 s; last answer: {last?.ToJsonString()}");
        return null!;
    }
}
