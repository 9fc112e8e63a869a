using System.Net;
using System.Text.Json;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Agents;

/// <summary>The operator's fleet API over HTTPS (api-version 2025-01-01): topology, hosts, join tokens, host state.</summary>
public sealed class FleetApi(HttpClient client) : IDisposable
{
    private const string ApiVersion = "?api-version=2025-01-01";
    private const string Root = "/providers/Holdfast.Fabric/";

    public static async Task<FleetApi> ConnectAsync(ServerProcess server) => new(await Clients.AuthenticatedHttpAsync(server.Credentials).ConfigureAwait(false));

    /// <summary>Site <c>s1</c>, cluster <c>c1</c>, rack <c>r1</c>, then the hosts (16 vCPUs, 64 GiB, 512 GiB disk).</summary>
    public async Task CreateFleetAsync(params string[] hosts)
    {
        await PutAsync("sites/s1", """{"properties":{"displayName":"Site 1"}}""").ConfigureAwait(false);
        await PutAsync("clusters/c1", """{"properties":{"site":"s1"}}""").ConfigureAwait(false);
        await PutAsync("racks/r1", """{"properties":{"cluster":"c1"}}""").ConfigureAwait(false);
        foreach (var host in hosts)
        {
            await PutAsync("hosts/" + host, """{"properties":{"rack":"r1","updateDomain":0,"capacity":{"vCpus":16,"memoryMiB":65536,"diskGiB":512,"gpus":0},"traits":["ssd"]}}""").ConfigureAwait(false);
        }
    }

    public async Task<string> CreateJoinTokenAsync(string host)
    {
        using var response = await client.PostAsync(new Uri(Root + $"hosts/{host}/createJoinToken" + ApiVersion, UriKind.Relative), Clients.Json("{}")).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"createJoinToken {host}: {(int)response.StatusCode} {body}");
        using var document = JsonDocument.Parse(body);
        return document.RootElement.GetProperty("joinToken").GetString()!;
    }

    /// <summary>The host's <c>properties</c> as the API answers them.</summary>
    public async Task<JsonElement> GetHostAsync(string host)
    {
        using var response = await client.GetAsync(new Uri(Root + "hosts/" + host + ApiVersion, UriKind.Relative)).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET host {host}: {(int)response.StatusCode} {body}");
        using var document = JsonDocument.Parse(body);
        return document.RootElement.GetProperty("properties").Clone();
    }

    public async Task<string> StateOfAsync(string host) => (await GetHostAsync(host).ConfigureAwait(false)).GetProperty("state").GetString()!;

    /// <summary>Polls (bounded) until the host is in <paramref name="state"/>.</summary>
    public async Task WaitForStateAsync(string host, string state, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        string last;
        while ((last = await StateOfAsync(host).ConfigureAwait(false)) != state)
        {
            if (cancel.IsCancellationRequested)
            {
                throw new TimeoutException($"Host {host} did not reach {state} within {timeout}; it is {last}.");
            }

            await Task.Delay(200, CancellationToken.None).ConfigureAwait(false);
        }
    }

    public async Task PostActionAsync(string host, string action)
    {
        using var response = await client.PostAsync(new Uri(Root + $"hosts/{host}/{action}" + ApiVersion, UriKind.Relative), Clients.Json("{}")).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{action} {host}: {(int)response.StatusCode} {body}");
    }

    public void Dispose() => client.Dispose();

    private async Task PutAsync(string path, string body)
    {
        using var response = await client.PutAsync(new Uri(Root + path + ApiVersion, UriKind.Relative), Clients.Json(body)).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created, $"PUT {path}: {(int)response.StatusCode} {text}");
    }
}
