using System.Net;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Authorization;

/// <summary>
/// "The Azure SDK creates and lists role assignments": Azure's JavaScript SDK (@azure/arm-authorization 9.0.0 with
/// @azure/identity; the .NET package is not on the mirror) run by node against the real server, trusting only its CA.
/// The npm project is test/Server.IntegrationTests/JsSdk (<see cref="JsSdkProject"/>). Without node or npm the test
/// fails — it never skips.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class JsSdkTests(ServerFixture fixture)
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task JavaScriptSdk_CreatesAndListsRoleAssignments()
    {
        await JsSdkProject.EnsureRestoredAsync();

        var group = ServerFixture.UniqueName("jssdk");
        await Rbac.CreateGroupAsync(fixture, group);
        using var principal = await Rbac.NewPrincipalAsync(fixture, "jssdk");
        var credentials = fixture.Credentials;
        var scope = $"/subscriptions/{credentials.SubscriptionId}/resourceGroups/{group}";
        var name = Guid.NewGuid().ToString();
        var environment = JsSdkProject.Environment(credentials);
        environment["HOLDFAST_SCOPE"] = scope;
        environment["HOLDFAST_ASSIGNMENT_NAME"] = name;
        environment["HOLDFAST_ROLE_DEFINITION_ID"] = Rbac.RoleId(scope, Rbac.Reader);
        environment["HOLDFAST_PRINCIPAL_ID"] = principal.ObjectId;

        var result = await JsSdkProject.RunScriptAsync("roleassignments.mjs", environment, NodeTimeout);
        Assert.Equal(name, result["created"]!["name"]!.GetValue<string>());
        Assert.Equal(principal.ObjectId, result["created"]!["principalId"]!.GetValue<string>());
        Assert.Equal(scope, result["created"]!["scope"]!.GetValue<string>());
        Assert.Contains(name, result["listed"]!.AsArray().Select(a => a!["name"]!.GetValue<string>()));

        // The server agrees: the assignment exists and grants what Reader grants.
        using var read = await principal.Http.GetAsync($"subscriptions/{credentials.SubscriptionId}/resourcegroups/{group}?api-version=2022-09-01");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }
}
