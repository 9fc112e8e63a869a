using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Audit;

/// <summary>
/// The activity log through Azure's Activity Log API on the real server: writes, deletes, actions, failed writes and
/// refused (401) requests all appear with the right fields; filters, <c>$select</c> and paging behave as Azure's.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ActivityLogApiTests(ServerFixture fixture)
{
    private string Subscription => fixture.Credentials.SubscriptionId;

    private string GroupUrl(string name) => $"subscriptions/{Subscription}/resourcegroups/{name}?api-version=2022-09-01";

    [Fact]
    public async Task ResourceGroupWrite_AppearsWithCallerActionScopeAndStatus()
    {
        var name = ServerFixture.UniqueName("audit-put");
        var (status, correlation) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Put, GroupUrl(name), """{"location":"local"}""");
        Assert.Equal(HttpStatusCode.Created, status);

        var events = await ActivityLog.WaitForAsync(fixture.Http, ActivityLog.Url(Subscription, ActivityLog.Filter($"correlationId eq '{correlation}'")), e => e.Count > 0);
        var e = Assert.Single(events);
        var scope = $"/subscriptions/{Subscription}/resourcegroups/{name}";
        Assert.Equal("Microsoft.Resources/subscriptions/resourceGroups/write", e["operationName"]!["value"]!.GetValue<string>());
        Assert.Equal("Microsoft.Resources/subscriptions/resourceGroups/write", e["authorization"]!["action"]!.GetValue<string>());
        Assert.Equal(scope, e["authorization"]!["scope"]!.GetValue<string>(), ignoreCase: true);
        Assert.Equal(scope, e["resourceId"]!.GetValue<string>(), ignoreCase: true);
        Assert.Equal(name, e["resourceGroupName"]!.GetValue<string>());
        Assert.Equal("Succeeded", e["status"]!["value"]!.GetValue<string>());
        Assert.Equal("Created", e["subStatus"]!["value"]!.GetValue<string>());
        Assert.Equal(fixture.Credentials.ClientId, e["caller"]!.GetValue<string>());
        Assert.Equal(fixture.Credentials.ObjectId, e["claims"]!["http://schemas.microsoft.com/identity/claims/objectidentifier"]!.GetValue<string>());
        Assert.Equal(fixture.Credentials.TenantId, e["tenantId"]!.GetValue<string>());
        Assert.Equal(Subscription, e["subscriptionId"]!.GetValue<string>());
        Assert.Equal("PUT", e["httpRequest"]!["method"]!.GetValue<string>());
        Assert.Equal("127.0.0.1", e["httpRequest"]!["clientIpAddress"]!.GetValue<string>());
        Assert.Equal("Administrative", e["category"]!["value"]!.GetValue<string>());
        Assert.Equal("Informational", e["level"]!.GetValue<string>());
        Assert.True(Guid.TryParse(e["eventDataId"]!.GetValue<string>(), out _));
        var timestamp = DateTimeOffset.Parse(e["eventTimestamp"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(timestamp, TimeProvider.System.GetUtcNow().AddHours(-1), TimeProvider.System.GetUtcNow().AddHours(1));
    }

    [Fact]
    public async Task Filter_AtTheEdgesOfRepresentableTime_IsServedNotA500()
    {
        var name = ServerFixture.UniqueName("audit-edge");
        var (status, correlation) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Put, GroupUrl(name), """{"location":"local"}""");
        Assert.Equal(HttpStatusCode.Created, status);

        var url = ActivityLog.Url(Subscription, $"eventTimestamp ge '0001-01-01T00:00:00Z' and eventTimestamp le '9999-12-31T23:59:59Z' and correlationId eq '{correlation}'");
        var events = await ActivityLog.WaitForAsync(fixture.Http, url, e => e.Count > 0);
        Assert.Single(events);
    }

    [Fact]
    public async Task DeleteAndProviderAction_AppearWithTheirActions()
    {
        var name = ServerFixture.UniqueName("audit-del");
        Assert.Equal(HttpStatusCode.Created, (await ActivityLog.SendAsync(fixture.Http, HttpMethod.Put, GroupUrl(name), """{"location":"local"}""")).Status);
        var (deleteStatus, deleteCorrelation) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Delete, GroupUrl(name));
        Assert.Equal(HttpStatusCode.Accepted, deleteStatus);
        var (registerStatus, registerCorrelation) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Post, $"subscriptions/{Subscription}/providers/Microsoft.Network/register?api-version=2022-09-01");
        Assert.Equal(HttpStatusCode.OK, registerStatus);

        var url = ActivityLog.Url(Subscription, ActivityLog.Filter());
        var events = await ActivityLog.WaitForAsync(fixture.Http, url, e => ActivityLog.WithCorrelation(e, deleteCorrelation).Count > 0 && ActivityLog.WithCorrelation(e, registerCorrelation).Count > 0);
        var deleted = Assert.Single(ActivityLog.WithCorrelation(events, deleteCorrelation));
        Assert.Equal("Microsoft.Resources/subscriptions/resourceGroups/delete", deleted["operationName"]!["value"]!.GetValue<string>());
        Assert.Equal("Accepted", deleted["status"]!["value"]!.GetValue<string>());
        Assert.Equal("DELETE", deleted["httpRequest"]!["method"]!.GetValue<string>());
        var registered = Assert.Single(ActivityLog.WithCorrelation(events, registerCorrelation));
        Assert.Equal("Microsoft.Network/register/action", registered["operationName"]!["value"]!.GetValue<string>());
        Assert.Equal("Succeeded", registered["status"]!["value"]!.GetValue<string>());
    }

    [Fact]
    public async Task FailedWrite_AppearsAsFailedWithItsHttpStatus()
    {
        var name = ServerFixture.UniqueName("audit-bad");
        var (status, correlation) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Put, GroupUrl(name), """{"location":"atlantis"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);

        var events = await ActivityLog.WaitForAsync(fixture.Http, ActivityLog.Url(Subscription, ActivityLog.Filter($"correlationId eq '{correlation}'")), e => e.Count > 0);
        var e = Assert.Single(events);
        Assert.Equal("Failed", e["status"]!["value"]!.GetValue<string>());
        Assert.Equal("BadRequest", e["subStatus"]!["value"]!.GetValue<string>());
        Assert.Equal("Error", e["level"]!.GetValue<string>());
        Assert.Equal(fixture.Credentials.ClientId, e["caller"]!.GetValue<string>());
        Assert.Equal(name, e["resourceGroupName"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("GET")]
    public async Task UnauthenticatedRequest_AppearsAsRefusedWithoutCaller(string method)
    {
        using var anonymous = Clients.Http(fixture.Credentials);
        var name = ServerFixture.UniqueName("audit-401");
        var (status, correlation) = await ActivityLog.SendAsync(anonymous, new HttpMethod(method), GroupUrl(name), method == "PUT" ? """{"location":"local"}""" : null, bearer: "not-a-token");
        Assert.Equal(HttpStatusCode.Unauthorized, status);

        var events = await ActivityLog.WaitForAsync(fixture.Http, ActivityLog.Url(Subscription, ActivityLog.Filter($"correlationId eq '{correlation}'")), e => e.Count > 0);
        var e = Assert.Single(events);
        Assert.Equal("Failed", e["status"]!["value"]!.GetValue<string>());
        Assert.Equal("Unauthorized", e["subStatus"]!["value"]!.GetValue<string>());
        Assert.Null(e["caller"]);
        Assert.Equal(method, e["httpRequest"]!["method"]!.GetValue<string>());
        Assert.Equal(method == "PUT" ? "Microsoft.Resources/subscriptions/resourceGroups/write" : "Microsoft.Resources/subscriptions/resourceGroups/read", e["operationName"]!["value"]!.GetValue<string>());
    }

    [Fact]
    public async Task SuccessfulRead_IsNotLogged()
    {
        var name = ServerFixture.UniqueName("audit-read");
        Assert.Equal(HttpStatusCode.Created, (await ActivityLog.SendAsync(fixture.Http, HttpMethod.Put, GroupUrl(name), """{"location":"local"}""")).Status);
        var (readStatus, readCorrelation) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Get, GroupUrl(name));
        Assert.Equal(HttpStatusCode.OK, readStatus);

        // A later write is chained after the read would have been: once it shows, the read would have too.
        var (_, marker) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Patch, GroupUrl(name), """{"tags":{"a":"b"}}""");
        var events = await ActivityLog.WaitForAsync(fixture.Http, ActivityLog.Url(Subscription, ActivityLog.Filter($"resourceGroupName eq '{name}'")), e => ActivityLog.WithCorrelation(e, marker).Count > 0);
        Assert.Empty(ActivityLog.WithCorrelation(events, readCorrelation));
        Assert.Equal(2, events.Count);
    }

    [Fact]
    public async Task Filters_SelectByGroupResourceCallerAndTime()
    {
        var first = ServerFixture.UniqueName("audit-f1");
        var second = ServerFixture.UniqueName("audit-f2");
        var (_, c1) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Put, GroupUrl(first), """{"location":"local"}""");
        var (_, c2) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Put, GroupUrl(second), """{"location":"local"}""");
        await ActivityLog.WaitForAsync(fixture.Http, ActivityLog.Url(Subscription, ActivityLog.Filter($"correlationId eq '{c2}'")), e => e.Count > 0);

        var byGroup = (await ActivityLog.ListAsync(fixture.Http, ActivityLog.Url(Subscription, ActivityLog.Filter($"resourceGroupName eq '{first.ToUpperInvariant()}'")))).Events;
        Assert.Equal(c1, Assert.Single(byGroup)["correlationId"]!.GetValue<string>());

        var byResource = (await ActivityLog.ListAsync(fixture.Http, ActivityLog.Url(Subscription, ActivityLog.Filter($"resourceId eq '/subscriptions/{Subscription}/resourceGroups/{second}'")))).Events;
        Assert.Equal(c2, Assert.Single(byResource)["correlationId"]!.GetValue<string>());

        var byCaller = (await ActivityLog.ListAsync(fixture.Http, ActivityLog.Url(Subscription, ActivityLog.Filter($"caller eq '{fixture.Credentials.ObjectId}' and resourceGroupName eq '{first}'")))).Events;
        Assert.Single(byCaller);
        var byOtherCaller = (await ActivityLog.ListAsync(fixture.Http, ActivityLog.Url(Subscription, ActivityLog.Filter($"caller eq '{Guid.NewGuid()}' and resourceGroupName eq '{first}'")))).Events;
        Assert.Empty(byOtherCaller);

        var past = $"eventTimestamp ge '{TimeProvider.System.GetUtcNow().AddDays(-3):O}' and eventTimestamp le '{TimeProvider.System.GetUtcNow().AddDays(-2):O}' and resourceGroupName eq '{first}'";
        Assert.Empty((await ActivityLog.ListAsync(fixture.Http, ActivityLog.Url(Subscription, past))).Events);
    }

    [Fact]
    public async Task TimeWindow_StartingAfterAnEvent_LeavesItOut()
    {
        var name = ServerFixture.UniqueName("audit-time");
        var (_, before) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Put, GroupUrl(name), """{"location":"local"}""");
        var first = Assert.Single(await ActivityLog.WaitForAsync(fixture.Http, ActivityLog.Url(Subscription, ActivityLog.Filter($"correlationId eq '{before}'")), e => e.Count > 0));
        var firstTime = DateTimeOffset.Parse(first["eventTimestamp"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        var (_, after) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Patch, GroupUrl(name), """{"tags":{"x":"y"}}""");
        var everything = await ActivityLog.WaitForAsync(fixture.Http, ActivityLog.Url(Subscription, ActivityLog.Filter($"resourceGroupName eq '{name}'")), e => e.Count == 2);
        var secondTime = DateTimeOffset.Parse(ActivityLog.WithCorrelation(everything, after)[0]["eventTimestamp"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);

        var window = $"eventTimestamp ge '{firstTime.AddTicks(1):O}' and eventTimestamp le '{secondTime:O}' and resourceGroupName eq '{name}'";
        var events = (await ActivityLog.ListAsync(fixture.Http, ActivityLog.Url(Subscription, window))).Events;
        Assert.Equal(after, Assert.Single(events)["correlationId"]!.GetValue<string>());

        var upToFirst = $"eventTimestamp ge '{firstTime.AddHours(-1):O}' and eventTimestamp le '{firstTime:O}' and resourceGroupName eq '{name}'";
        Assert.Equal(before, Assert.Single((await ActivityLog.ListAsync(fixture.Http, ActivityLog.Url(Subscription, upToFirst))).Events)["correlationId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Select_ReturnsOnlyTheNamedProperties()
    {
        var name = ServerFixture.UniqueName("audit-sel");
        var (_, correlation) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Put, GroupUrl(name), """{"location":"local"}""");
        var url = ActivityLog.Url(Subscription, ActivityLog.Filter($"correlationId eq '{correlation}'"), select: "operationName,status,correlationId");
        var e = Assert.Single(await ActivityLog.WaitForAsync(fixture.Http, url, e => e.Count > 0));
        Assert.Equal(["correlationId", "operationName", "status"], e.Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ManyEvents_ArePagedWithNextLink()
    {
        var name = ServerFixture.UniqueName("audit-page");
        const int Count = 230;
        var correlations = new List<string>();
        for (var i = 0; i < Count; i++)
        {
            var (status, correlation) = await ActivityLog.SendAsync(fixture.Http, HttpMethod.Put, GroupUrl(name), "{\"location\":\"local\",\"tags\":{\"i\":\"" + i + "\"}}");
            Assert.True(status is HttpStatusCode.Created or HttpStatusCode.OK, status.ToString());
            correlations.Add(correlation);
        }

        var url = ActivityLog.Url(Subscription, ActivityLog.Filter($"resourceGroupName eq '{name}'"));
        var events = await ActivityLog.WaitForAsync(fixture.Http, url, e => e.Count >= Count);
        Assert.Equal(correlations, events.Select(e => e["correlationId"]!.GetValue<string>()));
        var (_, pages) = await ActivityLog.ListAsync(fixture.Http, url);
        Assert.True(pages > 1, "230 events come in more than one page");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("resourceGroupName eq 'x'")]
    [InlineData("eventTimestamp ge 'yesterday'")]
    [InlineData("eventTimestamp ge '2026-01-01T00:00:00Z' or caller eq 'x'")]
    [InlineData("eventTimestamp ge '2026-01-01T00:00:00Z' and colour eq 'blue'")]
    public async Task MissingOrMalformedFilter_Returns400BadRequest(string? filter)
    {
        var url = $"subscriptions/{Subscription}/providers/Microsoft.Insights/eventtypes/management/values?api-version={ActivityLog.ApiVersion}"
            + (filter is null ? string.Empty : "&$filter=" + Uri.EscapeDataString(filter));
        using var response = await fixture.Http.GetAsync(url);
        var (status, code, _) = await Envelope.ReadAsync(response);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("BadRequest", code);
    }

    [Fact]
    public async Task WrongApiVersion_Returns400()
    {
        using var response = await fixture.Http.GetAsync($"subscriptions/{Subscription}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2022-09-01&$filter=" + Uri.EscapeDataString(ActivityLog.Filter()));
        var (status, code, _) = await Envelope.ReadAsync(response);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidApiVersionParameter", code);
    }

    [Fact]
    public async Task TenantLevelLog_ServesEventsWithoutSubscription()
    {
        using var response = await fixture.Http.GetAsync($"providers/Microsoft.Insights/eventtypes/management/values?api-version={ActivityLog.ApiVersion}&$filter=" + Uri.EscapeDataString(ActivityLog.Filter()));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = JsonNode.Parse(text)!["value"]!.AsArray();
        Assert.All(events, e => Assert.Null(e!["subscriptionId"]));
    }

    [Fact]
    public async Task ProviderDiscovery_ListsMicrosoftInsightsEventTypes()
    {
        using var response = await fixture.Http.GetAsync($"subscriptions/{Subscription}/providers/Microsoft.Insights?api-version=2022-09-01");
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var provider = JsonNode.Parse(text)!;
        Assert.Equal("Microsoft.Insights", provider["namespace"]!.GetValue<string>());
        var eventTypes = Assert.Single(provider["resourceTypes"]!.AsArray(), t => t!["resourceType"]!.GetValue<string>() == "eventtypes");
        Assert.Contains(ActivityLog.ApiVersion, eventTypes!["apiVersions"]!.AsArray().Select(v => v!.GetValue<string>()));
    }

    [Fact]
    public async Task Unauthenticated_CannotReadTheLog()
    {
        using var anonymous = Clients.Http(fixture.Credentials);
        using var response = await anonymous.GetAsync(ActivityLog.Url(Subscription, ActivityLog.Filter()));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
