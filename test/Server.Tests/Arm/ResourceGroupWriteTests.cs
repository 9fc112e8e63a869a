using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Server.Hosting;
using Holdfast.State;
using Holdfast.Testing;

namespace Holdfast.Server.Tests.Arm;

/// <summary>
/// A resource-group PUT starts from what this replica wrote last (<c>OwnWrites</c>) and lets its compare-and-swap
/// catch a stale guess: here another writer (as another replica would) changes or deletes the group behind the server's
/// back, and the next PUT must still answer from the store's current state.
/// </summary>
public sealed class ResourceGroupWriteTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly InMemoryStateStore _store = new(TimeProvider.System);
    private RunningServer _server = null!;
    private HttpClient _admin = null!;
    private string _subscription = null!;

    public async Task InitializeAsync()
    {
        (_server, _admin) = await InProcessClients.StartSignedInAsync(_directory.Path, _store);
        _subscription = _server.Bootstrap.SubscriptionId;
    }

    public async Task DisposeAsync()
    {
        _admin?.Dispose();
        await _server.DisposeAsync();
        await _store.DisposeAsync();
    }

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Put_GroupRewrittenByAnotherWriter_KeepsThatWritersCreationAndTakesNewTags()
    {
        Assert.Equal(HttpStatusCode.Created, (await PutAsync("shared", "first")).StatusCode);
        var key = ResourceKeys.Group(_subscription, "shared");
        var stored = (await _store.GetAsync(key, CancellationToken.None))!;
        var other = JsonNode.Parse(stored.Value.Span)!.AsObject();
        other["systemData"]!["createdBy"] = "another-replica";
        other["tags"] = new JsonObject { ["by"] = "other" };
        await _store.PutAsync(key, Encoding.UTF8.GetBytes(other.ToJsonString()), stored.ModRevision, CancellationToken.None);

        using var response = await PutAsync("shared", "second");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var current = JsonNode.Parse((await _store.GetAsync(key, CancellationToken.None))!.Value.Span)!;
        Assert.Equal("another-replica", current["systemData"]!["createdBy"]!.GetValue<string>());
        Assert.Equal("second", current["tags"]!["v"]!.GetValue<string>());
        Assert.Null(current["tags"]!["by"]);
        Assert.Equal(response.Headers.ETag!.ToString(), ResourceDocument.ETag((await _store.GetAsync(key, CancellationToken.None))!.ModRevision));
    }

    [Fact]
    public async Task Put_GroupDeletedByAnotherWriter_CreatesItAgain()
    {
        Assert.Equal(HttpStatusCode.Created, (await PutAsync("gone", "first")).StatusCode);
        await _store.DeleteAsync(ResourceKeys.Group(_subscription, "gone"), null, CancellationToken.None);

        using var response = await PutAsync("gone", "second");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.NotNull(await _store.GetAsync(ResourceKeys.Group(_subscription, "gone"), CancellationToken.None));
    }

    [Fact]
    public async Task Put_GroupMovedByAnotherWriter_RefusedOnTheCurrentState()
    {
        Assert.Equal(HttpStatusCode.Created, (await PutAsync("moved", "first")).StatusCode);
        var key = ResourceKeys.Group(_subscription, "moved");
        var stored = (await _store.GetAsync(key, CancellationToken.None))!;
        var other = JsonNode.Parse(stored.Value.Span)!.AsObject();
        other["location"] = "elsewhere";
        await _store.PutAsync(key, Encoding.UTF8.GetBytes(other.ToJsonString()), stored.ModRevision, CancellationToken.None);

        using var response = await PutAsync("moved", "second");

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("InvalidResourceGroupLocation", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private Task<HttpResponseMessage> PutAsync(string group, string tag) =>
        _admin.PutAsync(
            $"subscriptions/{_subscription}/resourcegroups/{group}?api-version=2022-09-01",
            new StringContent($"{{\"location\":\"local\",\"tags\":{{\"v\":\"{tag}\"}}}}", Encoding.UTF8, "application/json"));
}
