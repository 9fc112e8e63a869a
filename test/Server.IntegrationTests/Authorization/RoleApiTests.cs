using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Authorization;

/// <summary>Microsoft.Authorization's API as Azure answers it: assignments, custom roles, filters, errors, operator separation.</summary>
[Collection(ServerCollection.Name)]
public sealed class RoleApiTests(ServerFixture fixture)
{
    private string Sub => fixture.Credentials.SubscriptionId;

    [Fact]
    public async Task RoleAssignment_PutGetListDelete_AzureShapesAndErrors()
    {
        var group = ServerFixture.UniqueName("ra");
        await Rbac.CreateGroupAsync(fixture, group);
        using var principal = await Rbac.NewPrincipalAsync(fixture, "ra");
        var scope = $"/subscriptions/{Sub}/resourceGroups/{group}";
        var name = await Rbac.AssignAsync(fixture, scope, Rbac.Reader, principal.ObjectId);
        var path = $"{scope.TrimStart('/')}/providers/Microsoft.Authorization/roleAssignments/{name}";

        var got = await Rbac.ReadAsync(await fixture.Http.GetAsync(path + "?" + Rbac.ApiVersion));
        Assert.Equal(scope + "/providers/Microsoft.Authorization/roleAssignments/" + name, got["id"]!.GetValue<string>());
        Assert.Equal("Microsoft.Authorization/roleAssignments", got["type"]!.GetValue<string>());
        Assert.Equal(name, got["name"]!.GetValue<string>());
        var properties = got["properties"]!;
        Assert.Equal($"/subscriptions/{Sub}/providers/Microsoft.Authorization/roleDefinitions/{Rbac.Reader}", properties["roleDefinitionId"]!.GetValue<string>());
        Assert.Equal(principal.ObjectId, properties["principalId"]!.GetValue<string>());
        Assert.Equal("ServicePrincipal", properties["principalType"]!.GetValue<string>());
        Assert.Equal(scope, properties["scope"]!.GetValue<string>());
        Assert.Equal(fixture.Credentials.ObjectId, properties["createdBy"]!.GetValue<string>());
        Assert.NotNull(properties["createdOn"]);

        // The hybrid profile's 2015-07-01 shape.
        var legacy = await Rbac.ReadAsync(await fixture.Http.GetAsync(path + "?api-version=2015-07-01"));
        Assert.Equal(["roleDefinitionId", "principalId", "scope"], legacy["properties"]!.AsObject().Select(p => p.Key));

        // Same principal, role and scope under another name.
        var duplicate = await PutAssignmentAsync(scope, Guid.NewGuid().ToString(), Rbac.Reader, principal.ObjectId);
        Assert.Equal((HttpStatusCode.Conflict, "RoleAssignmentExists"), duplicate);
        Assert.Equal((HttpStatusCode.BadRequest, "PrincipalNotFound"), await PutAssignmentAsync(scope, Guid.NewGuid().ToString(), Rbac.Reader, Guid.NewGuid().ToString()));
        Assert.Equal((HttpStatusCode.BadRequest, "RoleDefinitionDoesNotExist"), await PutAssignmentAsync(scope, Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), principal.ObjectId));
        Assert.Equal((HttpStatusCode.BadRequest, "InvalidRoleAssignmentId"), await PutAssignmentAsync(scope, "not-a-guid", Rbac.Reader, principal.ObjectId));

        // Lists: at the subscription without a filter include assignments below it; atScope() does not.
        var below = await ListAsync($"subscriptions/{Sub}", null);
        Assert.Contains(name, below);
        var atScope = await ListAsync($"subscriptions/{Sub}", "atScope()");
        Assert.DoesNotContain(name, atScope);
        var atGroup = await ListAsync(scope.TrimStart('/'), "atScope()");
        Assert.Contains(name, atGroup);
        var byPrincipal = await ListAsync($"subscriptions/{Sub}", $"principalId eq '{principal.ObjectId}'");
        Assert.Equal([name], byPrincipal);
        var assignedTo = await ListAsync($"subscriptions/{Sub}", $"assignedTo('{principal.ObjectId}')");
        Assert.Equal([name], assignedTo);
        using (var badFilter = await fixture.Http.GetAsync($"subscriptions/{Sub}/providers/Microsoft.Authorization/roleAssignments?{Rbac.ApiVersion}&$filter=name%20eq%20'x'"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badFilter.StatusCode);
        }

        // Delete answers the deleted assignment, then 204; the grant is gone at once.
        using (var deleted = await fixture.Http.DeleteAsync(path + "?" + Rbac.ApiVersion))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }

        using (var again = await fixture.Http.DeleteAsync(path + "?" + Rbac.ApiVersion))
        {
            Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        }

        using (var gone = await fixture.Http.GetAsync(path + "?" + Rbac.ApiVersion))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        using var refused = await principal.Http.GetAsync($"subscriptions/{Sub}/resourcegroups/{group}?api-version=2022-09-01");
        await Rbac.AssertDeniedAsync(refused, "Microsoft.Resources/subscriptions/resourceGroups/read", principal);
    }

    [Fact]
    public async Task RoleAssignment_OnResourceScope_GrantsThatResourceOnly()
    {
        var group = ServerFixture.UniqueName("res");
        await Rbac.CreateGroupAsync(fixture, group);
        await Rbac.CreateVnetAsync(fixture, group, "granted");
        await Rbac.CreateVnetAsync(fixture, group, "other");
        using var principal = await Rbac.NewPrincipalAsync(fixture, "res");
        var vnet = $"/subscriptions/{Sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/granted";
        var name = await Rbac.AssignAsync(fixture, vnet, Rbac.Reader, principal.ObjectId);

        var listed = await Rbac.ReadAsync(await fixture.Http.GetAsync($"{vnet.TrimStart('/')}/providers/Microsoft.Authorization/roleAssignments?{Rbac.ApiVersion}&$filter=atScope()"));
        Assert.Contains(name, listed["value"]!.AsArray().Select(a => a!["name"]!.GetValue<string>()));
        using (var ok = await principal.Http.GetAsync(vnet.TrimStart('/') + "?api-version=2024-05-01"))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var other = await principal.Http.GetAsync($"subscriptions/{Sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/other?api-version=2024-05-01");
        await Rbac.AssertDeniedAsync(other, "Microsoft.Network/virtualNetworks/read", principal);
    }

    [Fact]
    public async Task GroupMembership_RoleOnGroup_AppliesToMembers()
    {
        var group = ServerFixture.UniqueName("grp");
        await Rbac.CreateGroupAsync(fixture, group);
        using var member = await Rbac.NewPrincipalAsync(fixture, "member");
        var securityGroup = ServerFixture.UniqueName("readers");
        using var created = await fixture.Http.PutAsync($"providers/Holdfast.Identity/groups/{securityGroup}?api-version=2025-01-01", Clients.Json($"{{\"properties\":{{\"displayName\":\"{securityGroup}\",\"members\":[\"{member.ObjectId}\"]}}}}"));
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var groupObjectId = (await Rbac.ReadAsync(created))["properties"]!["objectId"]!.GetValue<string>();
        await Rbac.AssignAsync(fixture, $"/subscriptions/{Sub}/resourceGroups/{group}", Rbac.Reader, groupObjectId, "Group");

        using var read = await member.Http.GetAsync($"subscriptions/{Sub}/resourcegroups/{group}?api-version=2022-09-01");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task CustomRole_ActionsNotActionsAssignableScopes_AsAzure()
    {
        var group = ServerFixture.UniqueName("custom");
        await Rbac.CreateGroupAsync(fixture, group);
        var scope = $"/subscriptions/{Sub}/resourceGroups/{group}";
        var roleId = Guid.NewGuid().ToString();
        var roleName = "Network builder " + roleId[..8];
        var rolePath = $"subscriptions/{Sub}/providers/Microsoft.Authorization/roleDefinitions/{roleId}?{Rbac.ApiVersion}";
        var roleBody = "{\"properties\":{\"roleName\":\"" + roleName + "\",\"description\":\"Builds networks, never deletes them\",\"type\":\"CustomRole\",\"permissions\":[{\"actions\":[\"Microsoft.Resources/subscriptions/resourceGroups/read\",\"Microsoft.Network/*\"],\"notActions\":[\"Microsoft.Network/virtualNetworks/delete\"]}],\"assignableScopes\":[\"" + scope + "\"]}}";
        using (var created = await fixture.Http.PutAsync(rolePath, Clients.Json(roleBody)))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            var role = await Rbac.ReadAsync(created);
            Assert.Equal($"/subscriptions/{Sub}/providers/Microsoft.Authorization/roleDefinitions/{roleId}", role["id"]!.GetValue<string>());
            Assert.Equal("CustomRole", role["properties"]!["type"]!.GetValue<string>());
        }

        var byName = await Rbac.ReadAsync(await fixture.Http.GetAsync($"subscriptions/{Sub}/providers/Microsoft.Authorization/roleDefinitions?{Rbac.ApiVersion}&$filter=roleName%20eq%20'{Uri.EscapeDataString(roleName)}'"));
        Assert.Equal([roleId], byName["value"]!.AsArray().Select(r => r!["name"]!.GetValue<string>()));
        var builtIns = await Rbac.ReadAsync(await fixture.Http.GetAsync($"subscriptions/{Sub}/providers/Microsoft.Authorization/roleDefinitions?{Rbac.ApiVersion}&$filter=type%20eq%20'BuiltInRole'"));
        Assert.Contains("Reader", builtIns["value"]!.AsArray().Select(r => r!["properties"]!["roleName"]!.GetValue<string>()));
        Assert.DoesNotContain(roleName, builtIns["value"]!.AsArray().Select(r => r!["properties"]!["roleName"]!.GetValue<string>()));

        // A second role with the same name is refused; the role is not assignable outside its assignable scopes.
        using (var sameName = await fixture.Http.PutAsync($"subscriptions/{Sub}/providers/Microsoft.Authorization/roleDefinitions/{Guid.NewGuid()}?{Rbac.ApiVersion}", Clients.Json(roleBody)))
        {
            Assert.Equal(HttpStatusCode.Conflict, sameName.StatusCode);
            Assert.Contains("RoleDefinitionWithSameNameExists", await sameName.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var principal = await Rbac.NewPrincipalAsync(fixture, "custom");
        Assert.Equal((HttpStatusCode.BadRequest, "RoleDefinitionDoesNotExist"), await PutAssignmentAsync($"/subscriptions/{Sub}", Guid.NewGuid().ToString(), roleId, principal.ObjectId));
        await Rbac.AssignAsync(fixture, scope, roleId, principal.ObjectId);

        var vnetPath = $"{scope.TrimStart('/')}/providers/Microsoft.Network/virtualNetworks/v1?api-version=2024-05-01";
        using (var put = await principal.Http.PutAsync(vnetPath, Clients.Json("{\"location\":\"local\",\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.0.0.0/16\"]}}}")))
        {
            Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync());
        }

        await Rbac.WaitSucceededAsync(principal.Http, vnetPath);
        using (var delete = await principal.Http.DeleteAsync(vnetPath))
        {
            await Rbac.AssertDeniedAsync(delete, "Microsoft.Network/virtualNetworks/delete", principal);
        }

        using (var inUse = await fixture.Http.DeleteAsync(rolePath))
        {
            Assert.Equal(HttpStatusCode.Conflict, inUse.StatusCode);
            Assert.Contains("RoleDefinitionHasAssignments", await inUse.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var badScopes = await fixture.Http.PutAsync($"subscriptions/{Sub}/providers/Microsoft.Authorization/roleDefinitions/{Guid.NewGuid()}?{Rbac.ApiVersion}", Clients.Json("""{"properties":{"roleName":"root role","permissions":[{"actions":["*"]}],"assignableScopes":["/"]}}""")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badScopes.StatusCode);
        }
    }

    [Fact]
    public async Task OperatorRoles_OwnerCannotReachOrGrantThem()
    {
        using var owner = await Rbac.NewPrincipalAsync(fixture, "owner");
        await Rbac.AssignAsync(fixture, $"/subscriptions/{Sub}", Rbac.Owner, owner.ObjectId);

        // Operator roles are assignable only at '/', and '/' is operator-only.
        using (var atSubscription = await owner.Http.PutAsync(
            $"subscriptions/{Sub}/providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}?{Rbac.ApiVersion}",
            Clients.Json($"{{\"properties\":{{\"roleDefinitionId\":\"/subscriptions/{Sub}/providers/Microsoft.Authorization/roleDefinitions/{Rbac.CloudOperator}\",\"principalId\":\"{owner.ObjectId}\"}}}}")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, atSubscription.StatusCode);
        }

        using (var atRoot = await owner.Http.PutAsync(
            $"providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}?{Rbac.ApiVersion}",
            Clients.Json($"{{\"properties\":{{\"roleDefinitionId\":\"/providers/Microsoft.Authorization/roleDefinitions/{Rbac.CloudOperator}\",\"principalId\":\"{owner.ObjectId}\"}}}}")))
        {
            await Rbac.AssertDeniedAsync(atRoot, "Microsoft.Authorization/roleAssignments/write", owner);
        }

        // Even Owner assigned at the root scope reaches no operator API.
        using var rootOwner = await Rbac.NewPrincipalAsync(fixture, "root-owner");
        await Rbac.AssignAsync(fixture, "/", Rbac.Owner, rootOwner.ObjectId);
        using (var operatorApi = await rootOwner.Http.GetAsync("providers/Holdfast.Operator/subscriptions?api-version=2025-01-01"))
        {
            await Rbac.AssertDeniedAsync(operatorApi, "Holdfast.Operator/subscriptions/read", rootOwner);
        }

        using (var principals = await rootOwner.Http.PutAsync($"providers/Holdfast.Identity/servicePrincipals/{ServerFixture.UniqueName("x")}?api-version=2025-01-01", Clients.Json("{\"properties\":{\"displayName\":\"x\"}}")))
        {
            await Rbac.AssertDeniedAsync(principals, "Holdfast.Identity/servicePrincipals/write", rootOwner);
        }

        using var tenantRead = await rootOwner.Http.GetAsync($"subscriptions/{Sub}/resourcegroups?api-version=2022-09-01");
        Assert.Equal(HttpStatusCode.OK, tenantRead.StatusCode);
    }

    [Fact]
    public async Task OperatorSubscriptions_CreateRenameDisable_DisabledRefusesWrites()
    {
        var id = Guid.NewGuid().ToString();
        var path = $"providers/Holdfast.Operator/subscriptions/{id}?api-version=2025-01-01";
        using (var created = await fixture.Http.PutAsync(path, Clients.Json("{\"properties\":{\"displayName\":\"Team A\"}}")))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }

        using (var renamed = await fixture.Http.PatchAsync(path, Clients.Json("{\"properties\":{\"displayName\":\"Team A (prod)\"}}")))
        {
            Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        }

        var arm = await Rbac.ReadAsync(await fixture.Http.GetAsync($"subscriptions/{id}?api-version=2022-12-01"));
        Assert.Equal("Team A (prod)", arm["displayName"]!.GetValue<string>());
        using (var group = await fixture.Http.PutAsync($"subscriptions/{id}/resourcegroups/g1?api-version=2022-09-01", Clients.Json("{\"location\":\"local\"}")))
        {
            Assert.Equal(HttpStatusCode.Created, group.StatusCode);
        }

        using (var disabled = await fixture.Http.PatchAsync(path, Clients.Json("{\"properties\":{\"state\":\"Disabled\"}}")))
        {
            Assert.Equal("Disabled", (await Rbac.ReadAsync(disabled))["properties"]!["state"]!.GetValue<string>());
        }

        using (var refused = await fixture.Http.PutAsync($"subscriptions/{id}/resourcegroups/g2?api-version=2022-09-01", Clients.Json("{\"location\":\"local\"}")))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Contains("ReadOnlyDisabledSubscription", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var read = await fixture.Http.GetAsync($"subscriptions/{id}/resourcegroups/g1?api-version=2022-09-01"))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }

        using var enabled = await fixture.Http.PatchAsync(path, Clients.Json("{\"properties\":{\"state\":\"Enabled\"}}"));
        using var accepted = await fixture.Http.PutAsync($"subscriptions/{id}/resourcegroups/g2?api-version=2022-09-01", Clients.Json("{\"location\":\"local\"}"));
        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
    }

    [Fact]
    public async Task LastOperatorAssignment_CannotBeDeleted()
    {
        // Its own server: were the guard broken, the shared server would lose its operator.
        await using var server = await ServerProcess.StartAsync(null, "--throttle", "off");
        using var http = await Clients.AuthenticatedHttpAsync(server.Credentials);
        var root = await Rbac.ReadAsync(await http.GetAsync($"providers/Microsoft.Authorization/roleAssignments?{Rbac.ApiVersion}&$filter=atScope()"));
        var operatorAssignment = root["value"]!.AsArray().Single(a => a!["properties"]!["roleDefinitionId"]!.GetValue<string>().EndsWith(Rbac.CloudOperator, StringComparison.Ordinal))!;
        Assert.Equal(server.Credentials.ObjectId, operatorAssignment["properties"]!["principalId"]!.GetValue<string>());

        using var refused = await http.DeleteAsync($"providers/Microsoft.Authorization/roleAssignments/{operatorAssignment["name"]}?{Rbac.ApiVersion}");
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("LastOperatorAssignment", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var stillOperator = await http.GetAsync("providers/Holdfast.Operator/subscriptions?api-version=2025-01-01");
        Assert.Equal(HttpStatusCode.OK, stillOperator.StatusCode);
    }

    private async Task<(HttpStatusCode, string)> PutAssignmentAsync(string scope, string name, string roleId, string principalId)
    {
        using var response = await fixture.Http.PutAsync(
            $"{scope.TrimStart('/')}/providers/Microsoft.Authorization/roleAssignments/{name}?{Rbac.ApiVersion}",
            Clients.Json($"{{\"properties\":{{\"roleDefinitionId\":\"{Rbac.RoleId(scope, roleId)}\",\"principalId\":\"{principalId}\"}}}}"));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, body?["error"]?["code"]?.GetValue<string>() ?? string.Empty);
    }

    private async Task<List<string>> ListAsync(string scopePath, string? filter)
    {
        var url = $"{scopePath}/providers/Microsoft.Authorization/roleAssignments?{Rbac.ApiVersion}" + (filter is null ? string.Empty : "&$filter=" + Uri.EscapeDataString(filter));
        var body = await Rbac.ReadAsync(await fixture.Http.GetAsync(url));
        return body["value"]!.AsArray().Select(a => a!["name"]!.GetValue<string>()).ToList();
    }
}
