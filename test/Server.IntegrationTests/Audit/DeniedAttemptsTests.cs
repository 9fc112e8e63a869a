using System.Net;
using Holdfast.Server.IntegrationTests.Authorization;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Audit;

/// <summary>
/// Issue 3's acceptance, the log's half: a principal with Reader on one group is refused everything else, and the
/// activity log proves every refused attempt (403, the action and scope it tried, the caller); the reader may read its
/// own group's log but not the subscription's.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class DeniedAttemptsTests(ServerFixture fixture)
{
    [Fact]
    public async Task ReaderOnOneGroup_EveryDeniedAttemptIsLogged()
    {
        var sub = fixture.Credentials.SubscriptionId;
        var mine = ServerFixture.UniqueName("denied-mine");
        var other = ServerFixture.UniqueName("denied-other");
        await Rbac.CreateGroupAsync(fixture, mine);
        await Rbac.CreateGroupAsync(fixture, other);
        using var reader = await Rbac.NewPrincipalAsync(fixture, "audit-reader");
        await Rbac.AssignAsync(fixture, $"/subscriptions/{sub}/resourceGroups/{mine}", Rbac.Reader, reader.ObjectId);

        var attempts = new (HttpMethod Method, string Path, string? Body, string Action, string Scope)[]
        {
            (HttpMethod.Put, $"subscriptions/{sub}/resourcegroups/{mine}?api-version=2022-09-01", """{"location":"local"}""", "Microsoft.Resources/subscriptions/resourceGroups/write", $"/subscriptions/{sub}/resourceGroups/{mine}"),
            (HttpMethod.Delete, $"subscriptions/{sub}/resourcegroups/{other}?api-version=2022-09-01", null, "Microsoft.Resources/subscriptions/resourceGroups/delete", $"/subscriptions/{sub}/resourceGroups/{other}"),
            (HttpMethod.Get, $"subscriptions/{sub}/resourcegroups/{other}?api-version=2022-09-01", null, "Microsoft.Resources/subscriptions/resourceGroups/read", $"/subscriptions/{sub}/resourceGroups/{other}"),
            (HttpMethod.Post, $"subscriptions/{sub}/providers/Microsoft.Network/register?api-version=2022-09-01", null, "Microsoft.Network/register/action", $"/subscriptions/{sub}"),
        };
        var correlations = new List<(string Correlation, string Action, string Scope, string Method)>();
        foreach (var (method, path, body, action, scope) in attempts)
        {
            var (status, correlation) = await ActivityLog.SendAsync(reader.Http, method, path, body);
            Assert.Equal(HttpStatusCode.Forbidden, status);
            correlations.Add((correlation, action, scope, method.Method));
        }

        // The reader may read its own group's log, not the subscription's.
        using (var own = await reader.Http.GetAsync(ActivityLog.Url(sub, ActivityLog.Filter($"resourceGroupName eq '{mine}'"))))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }

        var (subscriptionLog, subscriptionCorrelation) = await ActivityLog.SendAsync(reader.Http, HttpMethod.Get, ActivityLog.Url(sub, ActivityLog.Filter()));
        Assert.Equal(HttpStatusCode.Forbidden, subscriptionLog);
        correlations.Add((subscriptionCorrelation, "Microsoft.Insights/eventtypes/values/read", $"/subscriptions/{sub}", "GET"));

        var events = await ActivityLog.WaitForAsync(fixture.Http, ActivityLog.Url(sub, ActivityLog.Filter($"caller eq '{reader.AppId}'")), e => correlations.All(c => ActivityLog.WithCorrelation(e, c.Correlation).Count == 1));
        foreach (var (correlation, action, scope, method) in correlations)
        {
            var e = Assert.Single(ActivityLog.WithCorrelation(events, correlation));
            Assert.Equal(action, e["operationName"]!["value"]!.GetValue<string>());
            Assert.Equal(scope, e["authorization"]!["scope"]!.GetValue<string>(), ignoreCase: true);
            Assert.Equal("Failed", e["status"]!["value"]!.GetValue<string>());
            Assert.Equal("Forbidden", e["subStatus"]!["value"]!.GetValue<string>());
            Assert.Equal("AuthorizationFailed", e["properties"]!["errorCode"]!.GetValue<string>());
            Assert.Equal(reader.ObjectId, e["claims"]!["http://schemas.microsoft.com/identity/claims/objectidentifier"]!.GetValue<string>());
            Assert.Equal(method, e["httpRequest"]!["method"]!.GetValue<string>());
        }
    }
}
