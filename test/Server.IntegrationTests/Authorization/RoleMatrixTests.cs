using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Authorization;

/// <summary>
/// Role × action × scope over the real server, against Azure's documented semantics: built-in roles, inheritance from
/// the subscription to its groups and resources, Contributor's NotActions on Microsoft.Authorization, scope boundaries
/// between sibling groups, and operator isolation (Owner never reaches Holdfast.* operator APIs).
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class RoleMatrixTests(ServerFixture fixture)
{
    public enum At
    {
        Subscription,
        Group,
        OtherGroup,
        Vnet,
    }

    public enum Op
    {
        ReadGroup,
        TagGroup,
        ReadVnet,
        WriteVnet,
        DeleteSubnetlessVnet,
        AssignRole,
        ListOperatorSubscriptions,
        ListServicePrincipals,
    }

    public static TheoryData<string, At, Op, bool> Matrix() => new()
    {
        { Rbac.Reader, At.Subscription, Op.ReadGroup, true },
        { Rbac.Reader, At.Subscription, Op.ReadVnet, true },
        { Rbac.Reader, At.Subscription, Op.TagGroup, false },
        { Rbac.Reader, At.Group, Op.WriteVnet, false },
        { Rbac.Reader, At.OtherGroup, Op.ReadGroup, false },
        { Rbac.Reader, At.Vnet, Op.ReadVnet, true },
        { Rbac.Reader, At.Vnet, Op.ReadGroup, false },
        { Rbac.Contributor, At.Subscription, Op.TagGroup, true },
        { Rbac.Contributor, At.Group, Op.WriteVnet, true },
        { Rbac.Contributor, At.Group, Op.DeleteSubnetlessVnet, true },
        { Rbac.Contributor, At.Group, Op.AssignRole, false },
        { Rbac.Contributor, At.OtherGroup, Op.WriteVnet, false },
        { Rbac.Contributor, At.Vnet, Op.WriteVnet, true },
        { Rbac.Contributor, At.Vnet, Op.TagGroup, false },
        { Rbac.Owner, At.Group, Op.AssignRole, true },
        { Rbac.Owner, At.Subscription, Op.WriteVnet, true },
        { Rbac.Owner, At.Subscription, Op.ListOperatorSubscriptions, false },
        { Rbac.Owner, At.Subscription, Op.ListServicePrincipals, false },
        { Rbac.UserAccessAdministrator, At.Group, Op.AssignRole, true },
        { Rbac.UserAccessAdministrator, At.Group, Op.WriteVnet, false },
        { Rbac.UserAccessAdministrator, At.Group, Op.ReadVnet, true },
        { Rbac.NetworkContributor, At.Group, Op.WriteVnet, true },
        { Rbac.NetworkContributor, At.Group, Op.TagGroup, false },
        { Rbac.NetworkContributor, At.Group, Op.ReadGroup, true },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Request_RoleAtScope_AllowedExactlyAsAzure(string roleId, At assignedAt, Op operation, bool allowed)
    {
        var sub = fixture.Credentials.SubscriptionId;
        var group = ServerFixture.UniqueName("mx");
        var otherGroup = ServerFixture.UniqueName("mx-other");
        await Rbac.CreateGroupAsync(fixture, group);
        await Rbac.CreateGroupAsync(fixture, otherGroup);
        await Rbac.CreateVnetAsync(fixture, group, "v1");
        var groupScope = $"/subscriptions/{sub}/resourceGroups/{group}";
        var vnetPath = $"subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/v1";
        using var principal = await Rbac.NewPrincipalAsync(fixture, "mx");
        var scope = assignedAt switch
        {
            At.Subscription => $"/subscriptions/{sub}",
            At.Group => groupScope,
            At.OtherGroup => $"/subscriptions/{sub}/resourceGroups/{otherGroup}",
            _ => "/" + vnetPath,
        };
        await Rbac.AssignAsync(fixture, scope, roleId, principal.ObjectId);

        var (method, path, body) = operation switch
        {
            Op.ReadGroup => (HttpMethod.Get, $"subscriptions/{sub}/resourcegroups/{group}?api-version=2022-09-01", null),
            Op.TagGroup => (HttpMethod.Patch, $"subscriptions/{sub}/resourcegroups/{group}?api-version=2022-09-01", "{\"tags\":{\"matrix\":\"yes\"}}"),
            Op.ReadVnet => (HttpMethod.Get, vnetPath + "?api-version=2024-05-01", null),
            Op.WriteVnet => (HttpMethod.Put, vnetPath + "?api-version=2024-05-01", "{\"location\":\"local\",\"tags\":{\"m\":\"1\"},\"properties\":{\"addressSpace\":{\"addressPrefixes\":[\"10.0.0.0/16\"]}}}"),
            Op.DeleteSubnetlessVnet => (HttpMethod.Delete, vnetPath + "?api-version=2024-05-01", null),
            Op.AssignRole => (HttpMethod.Put, $"{groupScope.TrimStart('/')}/providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}?{Rbac.ApiVersion}", $"{{\"properties\":{{\"roleDefinitionId\":\"{Rbac.RoleId(groupScope, Rbac.Reader)}\",\"principalId\":\"{principal.ObjectId}\"}}}}"),
            Op.ListOperatorSubscriptions => (HttpMethod.Get, "providers/Holdfast.Operator/subscriptions?api-version=2025-01-01", null),
            _ => (HttpMethod.Get, "providers/Holdfast.Identity/servicePrincipals?api-version=2025-01-01", (string?)null),
        };
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = Clients.Json(body);
        }

        using var response = await principal.Http.SendAsync(request);
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync();
        if (allowed)
        {
            Assert.True(status is >= 200 and < 300, $"{method} {path} as {roleId} at {assignedAt}: expected success, got {status}: {text}");
        }
        else
        {
            Assert.True(status == 403 && text.Contains("\"AuthorizationFailed\"", StringComparison.Ordinal), $"{method} {path} as {roleId} at {assignedAt}: expected 403, got {status}: {text}");
        }
    }
}
