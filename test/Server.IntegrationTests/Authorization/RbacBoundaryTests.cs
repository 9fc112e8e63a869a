using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Authorization;

/// <summary>
/// RBAC's edges: a custom role belongs to its assignable scopes (another subscription's Owner cannot rewrite or delete
/// it), role writes and assignments cannot race into an orphan, and refusals reveal nothing about what exists.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class RbacBoundaryTests(ServerFixture fixture)
{
    private string Sub => fixture.Credentials.SubscriptionId;

    [Fact]
    public async Task CustomRole_OfAnotherSubscription_CannotBeRewrittenOrDeletedFromMine()
    {
        var other = await NewSubscriptionAsync();
        var roleId = Guid.NewGuid().ToString();
        await PutRoleAsync(fixture.Http, $"/subscriptions/{other}", roleId, "theirs " + roleId[..8], ["Microsoft.Resources/subscriptions/resourceGroups/read"], [$"/subscriptions/{other}"], HttpStatusCode.Created);
        using var alice = await Rbac.NewPrincipalAsync(fixture, "alice");
        await Rbac.AssignAsync(fixture, $"/subscriptions/{other}", roleId, alice.ObjectId);
        await Rbac.AssignAsync(fixture, $"/subscriptions/{Sub}", Rbac.Owner, alice.ObjectId);

        // Owner of my subscription, rewriting their role through my subscription's URL, to grant '*' in theirs.
        using (var rewrite = await alice.Http.PutAsync(RolePath($"/subscriptions/{Sub}", roleId), Clients.Json(RoleBody("mine", ["*"], [$"/subscriptions/{Sub}"]))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, rewrite.StatusCode);
        }

        using (var delete = await alice.Http.DeleteAsync(RolePath($"/subscriptions/{Sub}", roleId)))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        // Through their URL it needs the write action there.
        using (var atTheirs = await alice.Http.PutAsync(RolePath($"/subscriptions/{other}", roleId), Clients.Json(RoleBody("mine", ["*"], [$"/subscriptions/{Sub}"]))))
        {
            await Rbac.AssertDeniedAsync(atTheirs, "Microsoft.Authorization/roleDefinitions/write", alice);
        }

        var role = await Rbac.ReadAsync(await fixture.Http.GetAsync(RolePath($"/subscriptions/{other}", roleId)));
        Assert.Equal(["Microsoft.Resources/subscriptions/resourceGroups/read"], role["properties"]!["permissions"]![0]!["actions"]!.AsArray().Select(a => a!.GetValue<string>()));
        using var stillDenied = await alice.Http.PutAsync($"subscriptions/{other}/resourcegroups/{ServerFixture.UniqueName("x")}?api-version=2022-09-01", Clients.Json("{\"location\":\"local\"}"));
        await Rbac.AssertDeniedAsync(stillDenied, "Microsoft.Resources/subscriptions/resourceGroups/write", alice);
    }

    [Fact]
    public async Task CustomRole_SpanningTwoSubscriptions_NeedsWriteAtEveryCurrentScope()
    {
        var other = await NewSubscriptionAsync();
        var roleId = Guid.NewGuid().ToString();
        await PutRoleAsync(fixture.Http, $"/subscriptions/{Sub}", roleId, "shared " + roleId[..8], ["Microsoft.Resources/subscriptions/resourceGroups/read"], [$"/subscriptions/{Sub}", $"/subscriptions/{other}"], HttpStatusCode.Created);
        using var alice = await Rbac.NewPrincipalAsync(fixture, "alice");
        await Rbac.AssignAsync(fixture, $"/subscriptions/{Sub}", Rbac.Owner, alice.ObjectId);

        using (var narrow = await alice.Http.PutAsync(RolePath($"/subscriptions/{Sub}", roleId), Clients.Json(RoleBody("shared " + roleId[..8], ["*"], [$"/subscriptions/{Sub}"]))))
        {
            await Rbac.AssertDeniedAsync(narrow, "Microsoft.Authorization/roleDefinitions/write", alice);
        }

        using (var delete = await alice.Http.DeleteAsync(RolePath($"/subscriptions/{Sub}", roleId)))
        {
            await Rbac.AssertDeniedAsync(delete, "Microsoft.Authorization/roleDefinitions/delete", alice);
        }

        using var kept = await fixture.Http.GetAsync(RolePath($"/subscriptions/{other}", roleId));
        Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
    }

    [Fact]
    public async Task CustomRole_RemovingAnAssignableScopeThatHasAssignments_IsRefused()
    {
        var group1 = ServerFixture.UniqueName("scope1");
        var group2 = ServerFixture.UniqueName("scope2");
        await Rbac.CreateGroupAsync(fixture, group1);
        await Rbac.CreateGroupAsync(fixture, group2);
        var scope1 = $"/subscriptions/{Sub}/resourceGroups/{group1}";
        var scope2 = $"/subscriptions/{Sub}/resourceGroups/{group2}";
        var roleId = Guid.NewGuid().ToString();
        var roleName = "two groups " + roleId[..8];
        await PutRoleAsync(fixture.Http, $"/subscriptions/{Sub}", roleId, roleName, ["Microsoft.Resources/subscriptions/resourceGroups/read"], [scope1, scope2], HttpStatusCode.Created);
        using var principal = await Rbac.NewPrincipalAsync(fixture, "scoped");
        await Rbac.AssignAsync(fixture, scope2, roleId, principal.ObjectId);

        using (var narrowed = await fixture.Http.PutAsync(RolePath($"/subscriptions/{Sub}", roleId), Clients.Json(RoleBody(roleName, ["Microsoft.Resources/subscriptions/resourceGroups/read"], [scope1]))))
        {
            Assert.Equal(HttpStatusCode.Conflict, narrowed.StatusCode);
            Assert.Contains("RoleDefinitionHasAssignments", await narrowed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var read = await principal.Http.GetAsync($"subscriptions/{Sub}/resourcegroups/{group2}?api-version=2022-09-01");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task CustomRole_DeleteRacingAssignments_NeverLeavesAnAssignmentOfAMissingRole()
    {
        using var principal = await Rbac.NewPrincipalAsync(fixture, "race");
        var scope = $"/subscriptions/{Sub}";
        for (var round = 0; round < 10; round++)
        {
            var roleId = Guid.NewGuid().ToString();
            await PutRoleAsync(fixture.Http, scope, roleId, "race " + roleId[..8], ["Microsoft.Resources/subscriptions/resourceGroups/read"], [scope], HttpStatusCode.Created);
            var assignment = Guid.NewGuid().ToString();
            var assign = fixture.Http.PutAsync(
                $"{scope.TrimStart('/')}/providers/Microsoft.Authorization/roleAssignments/{assignment}?{Rbac.ApiVersion}",
                Clients.Json($"{{\"properties\":{{\"roleDefinitionId\":\"{Rbac.RoleId(scope, roleId)}\",\"principalId\":\"{principal.ObjectId}\"}}}}"));
            var delete = fixture.Http.DeleteAsync(RolePath(scope, roleId));
            using var assigned = await assign;
            using var deleted = await delete;

            using var role = await fixture.Http.GetAsync(RolePath(scope, roleId));
            using var held = await fixture.Http.GetAsync($"{scope.TrimStart('/')}/providers/Microsoft.Authorization/roleAssignments/{assignment}?{Rbac.ApiVersion}");
            Assert.False(
                role.StatusCode == HttpStatusCode.NotFound && held.StatusCode == HttpStatusCode.OK,
                $"round {round}: assignment {(int)assigned.StatusCode}, role delete {(int)deleted.StatusCode}: the assignment outlived its role");

            // A new role under the GUID of a role that still has assignments would hand them its permissions.
            if (held.StatusCode == HttpStatusCode.OK && role.StatusCode == HttpStatusCode.OK)
            {
                using var removed = await fixture.Http.DeleteAsync($"{scope.TrimStart('/')}/providers/Microsoft.Authorization/roleAssignments/{assignment}?{Rbac.ApiVersion}");
                Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
            }
        }
    }

    [Fact]
    public async Task Permissions_WhereTheCallerHoldsNothing_SameRefusalWhetherTheGroupExistsOrNot()
    {
        var mine = ServerFixture.UniqueName("mine");
        var theirs = ServerFixture.UniqueName("theirs");
        await Rbac.CreateGroupAsync(fixture, mine);
        await Rbac.CreateGroupAsync(fixture, theirs);
        using var principal = await Rbac.NewPrincipalAsync(fixture, "perm");
        await Rbac.AssignAsync(fixture, $"/subscriptions/{Sub}/resourceGroups/{mine}", Rbac.Reader, principal.ObjectId);

        using (var own = await principal.Http.GetAsync($"subscriptions/{Sub}/resourceGroups/{mine}/providers/Microsoft.Authorization/permissions?{Rbac.ApiVersion}"))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
            Assert.Contains("*/read", (await Rbac.ReadAsync(own))["value"]![0]!["actions"]!.AsArray().Select(a => a!.GetValue<string>()));
        }

        // Above its group it holds something below: it may ask there.
        using (var above = await principal.Http.GetAsync($"subscriptions/{Sub}/providers/Microsoft.Authorization/permissions?{Rbac.ApiVersion}"))
        {
            Assert.Equal(HttpStatusCode.OK, above.StatusCode);
        }

        using var existing = await principal.Http.GetAsync($"subscriptions/{Sub}/resourceGroups/{theirs}/providers/Microsoft.Authorization/permissions?{Rbac.ApiVersion}");
        using var missing = await principal.Http.GetAsync($"subscriptions/{Sub}/resourceGroups/{ServerFixture.UniqueName("nothing")}/providers/Microsoft.Authorization/permissions?{Rbac.ApiVersion}");
        await Rbac.AssertDeniedAsync(existing, "Microsoft.Authorization/permissions/read", principal);
        await Rbac.AssertDeniedAsync(missing, "Microsoft.Authorization/permissions/read", principal);
    }

    [Fact]
    public async Task OperationPoll_WithoutAccess_OrThroughAnotherNamespace_IsNotFound()
    {
        var group = ServerFixture.UniqueName("poll");
        await Rbac.CreateGroupAsync(fixture, group);
        var vnetPath = $"subscriptions/{Sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/v1?api-version=2024-05-01";
        using var put = await fixture.Http.PutAsync(vnetPath, Clients.Json("{\"location\":\"local\",\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.0.0.0/16\"]}}}"));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var poll = put.Headers.GetValues("Azure-AsyncOperation").Single();
        using (var own = await fixture.Http.GetAsync(poll))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }

        using var stranger = await Rbac.NewPrincipalAsync(fixture, "stranger");
        using (var refused = await stranger.Http.GetAsync(poll))
        {
            var text = await refused.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
            Assert.Equal("OperationNotFound", JsonNode.Parse(text)!["error"]!["code"]!.GetValue<string>());
            Assert.DoesNotContain(group, text, StringComparison.OrdinalIgnoreCase);
        }

        // A role for another namespace only, polling the Network operation through that namespace's URL.
        var roleId = Guid.NewGuid().ToString();
        var scope = $"/subscriptions/{Sub}/resourceGroups/{group}";
        await PutRoleAsync(fixture.Http, $"/subscriptions/{Sub}", roleId, "compute only " + roleId[..8], ["Microsoft.Compute/*"], [scope], HttpStatusCode.Created);
        using var compute = await Rbac.NewPrincipalAsync(fixture, "compute");
        await Rbac.AssignAsync(fixture, scope, roleId, compute.ObjectId);
        var viaCompute = poll.Replace("/providers/Microsoft.Network/", "/providers/Microsoft.Compute/", StringComparison.OrdinalIgnoreCase);
        Assert.NotEqual(poll, viaCompute);
        using var crossed = await compute.Http.GetAsync(viaCompute);
        Assert.Equal(HttpStatusCode.NotFound, crossed.StatusCode);
    }

    [Theory]
    [InlineData("B")]
    [InlineData("N")]
    [InlineData("P")]
    public async Task OperatorSubscription_NonCanonicalId_IsRefusedAndCreatesNoAlias(string format)
    {
        var id = Guid.NewGuid();
        var path = $"providers/Holdfast.Operator/subscriptions/{id}?api-version=2025-01-01";
        using (var created = await fixture.Http.PutAsync(path, Clients.Json("{\"properties\":{\"displayName\":\"Canonical\"}}")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using (var disabled = await fixture.Http.PatchAsync(path, Clients.Json("{\"properties\":{\"state\":\"Disabled\"}}")))
        {
            Assert.Equal(HttpStatusCode.OK, disabled.StatusCode);
        }

        var alias = Uri.EscapeDataString(id.ToString(format));
        using (var aliased = await fixture.Http.PutAsync($"providers/Holdfast.Operator/subscriptions/{alias}?api-version=2025-01-01", Clients.Json("{\"properties\":{\"displayName\":\"Alias\"}}")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, aliased.StatusCode);
            Assert.Contains("InvalidSubscriptionId", await aliased.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var write = await fixture.Http.PutAsync($"subscriptions/{alias}/resourcegroups/g1?api-version=2022-09-01", Clients.Json("{\"location\":\"local\"}"));
        Assert.NotEqual(HttpStatusCode.Created, write.StatusCode);
        var listed = await Rbac.ReadAsync(await fixture.Http.GetAsync("providers/Holdfast.Operator/subscriptions?api-version=2025-01-01"));
        Assert.Single(listed["value"]!.AsArray(), s => s!["properties"]!["subscriptionId"]!.GetValue<string>().Replace("-", string.Empty, StringComparison.Ordinal).Equals(id.ToString("N"), StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task AssignmentList_ForATenantReader_HidesOperatorAssignments()
    {
        using var reader = await Rbac.NewPrincipalAsync(fixture, "tenant-reader");
        await Rbac.AssignAsync(fixture, $"/subscriptions/{Sub}", Rbac.Reader, reader.ObjectId);

        var asReader = await Rbac.ReadAsync(await reader.Http.GetAsync($"subscriptions/{Sub}/providers/Microsoft.Authorization/roleAssignments?{Rbac.ApiVersion}"));
        var roles = asReader["value"]!.AsArray().Select(a => a!["properties"]!["roleDefinitionId"]!.GetValue<string>()).ToList();
        Assert.Contains(roles, r => r.EndsWith(Rbac.Reader, StringComparison.Ordinal));
        Assert.DoesNotContain(roles, r => r.EndsWith(Rbac.CloudOperator, StringComparison.Ordinal));

        // The operator, who may read at '/', still sees them.
        var asOperator = await Rbac.ReadAsync(await fixture.Http.GetAsync($"subscriptions/{Sub}/providers/Microsoft.Authorization/roleAssignments?{Rbac.ApiVersion}"));
        Assert.Contains(asOperator["value"]!.AsArray(), a => a!["properties"]!["roleDefinitionId"]!.GetValue<string>().EndsWith(Rbac.CloudOperator, StringComparison.Ordinal));
    }

    [Fact]
    public async Task LastOperatorAssignment_AnOrphanedOperatorAssignmentDoesNotCount()
    {
        // Its own server: were the guard broken, the shared server would lose its operator.
        await using var server = await ServerProcess.StartAsync(null, "--throttle", "off");
        using var http = await Clients.AuthenticatedHttpAsync(server.Credentials);
        var name = ServerFixture.UniqueName("gone");
        using var created = await http.PutAsync($"providers/Holdfast.Identity/servicePrincipals/{name}?api-version=2025-01-01", Clients.Json($"{{\"properties\":{{\"displayName\":\"{name}\"}}}}"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var objectId = (await Rbac.ReadAsync(created))["properties"]!["objectId"]!.GetValue<string>();
        using (var assigned = await http.PutAsync(
            $"providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}?{Rbac.ApiVersion}",
            Clients.Json($"{{\"properties\":{{\"roleDefinitionId\":\"/providers/Microsoft.Authorization/roleDefinitions/{Rbac.CloudOperator}\",\"principalId\":\"{objectId}\"}}}}")))
        {
            Assert.Equal(HttpStatusCode.Created, assigned.StatusCode);
        }

        using (var deleted = await http.DeleteAsync($"providers/Holdfast.Identity/servicePrincipals/{name}?api-version=2025-01-01"))
        {
            Assert.True(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync());
        }

        var root = await Rbac.ReadAsync(await http.GetAsync($"providers/Microsoft.Authorization/roleAssignments?{Rbac.ApiVersion}&$filter=atScope()"));
        var mine = root["value"]!.AsArray().Single(a => a!["properties"]!["principalId"]!.GetValue<string>() == server.Credentials.ObjectId
            && a["properties"]!["roleDefinitionId"]!.GetValue<string>().EndsWith(Rbac.CloudOperator, StringComparison.Ordinal))!;
        using var refused = await http.DeleteAsync($"providers/Microsoft.Authorization/roleAssignments/{mine["name"]}?{Rbac.ApiVersion}");
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("LastOperatorAssignment", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var stillOperator = await http.GetAsync("providers/Holdfast.Operator/subscriptions?api-version=2025-01-01");
        Assert.Equal(HttpStatusCode.OK, stillOperator.StatusCode);
    }

    private static string RolePath(string scope, string roleId) =>
        $"{scope.TrimStart('/')}/providers/Microsoft.Authorization/roleDefinitions/{roleId}?{Rbac.ApiVersion}";

    private static string RoleBody(string roleName, string[] actions, string[] assignableScopes) =>
        new JsonObject
        {
            ["properties"] = new JsonObject
            {
                ["roleName"] = roleName,
                ["permissions"] = new JsonArray(new JsonObject { ["actions"] = new JsonArray(actions.Select(a => (JsonNode)a).ToArray()) }),
                ["assignableScopes"] = new JsonArray(assignableScopes.Select(s => (JsonNode)s).ToArray()),
            },
        }.ToJsonString();

    private static async Task PutRoleAsync(HttpClient http, string scope, string roleId, string roleName, string[] actions, string[] assignableScopes, HttpStatusCode expected)
    {
        using var response = await http.PutAsync(RolePath(scope, roleId), Clients.Json(RoleBody(roleName, actions, assignableScopes)));
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private async Task<string> NewSubscriptionAsync()
    {
        var id = Guid.NewGuid().ToString();
        using var created = await fixture.Http.PutAsync($"providers/Holdfast.Operator/subscriptions/{id}?api-version=2025-01-01", Clients.Json("{\"properties\":{\"displayName\":\"Other team\"}}"));
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        return id;
    }
}
