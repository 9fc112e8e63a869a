using Holdfast.Identity.Authorization;
using Xunit;

namespace Holdfast.Identity.Tests.Authorization;

/// <summary>A role × action × scope matrix against Azure RBAC's documented semantics.</summary>
public sealed class AccessEvaluatorTests
{
    private const string Alice = "11111111-1111-1111-1111-111111111111";
    private const string Bob = "22222222-2222-2222-2222-222222222222";
    private const string Sub = "/subscriptions/aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";
    private const string Rg1 = Sub + "/resourceGroups/rg1";
    private const string Rg10 = Sub + "/resourceGroups/rg10";
    private const string Vnet = Rg1 + "/providers/Microsoft.Network/virtualNetworks/v1";
    private const string Fabric = "/providers/Holdfast.Fabric/hosts/host-1";

    public static TheoryData<string, string, string, string, bool> Matrix() => new()
    {
        // role assigned at scope, action, target scope, allowed
        { BuiltInRoles.Reader.Id, Rg1, "Microsoft.Resources/subscriptions/resourceGroups/read", Rg1, true },
        { BuiltInRoles.Reader.Id, Rg1, "Microsoft.Network/virtualNetworks/read", Vnet, true },
        { BuiltInRoles.Reader.Id, Rg1, "Microsoft.Network/virtualNetworks/write", Vnet, false },
        { BuiltInRoles.Reader.Id, Rg1, "Microsoft.Resources/subscriptions/resourceGroups/read", Rg10, false },
        { BuiltInRoles.Reader.Id, Rg1, "Microsoft.Resources/subscriptions/resourceGroups/read", Sub, false },
        { BuiltInRoles.Reader.Id, Sub, "Microsoft.Network/virtualNetworks/read", Vnet, true },
        { BuiltInRoles.Contributor.Id, Sub, "Microsoft.Network/virtualNetworks/write", Vnet, true },
        { BuiltInRoles.Contributor.Id, Sub, "Microsoft.Compute/virtualMachines/start/action", Rg1 + "/providers/Microsoft.Compute/virtualMachines/vm1", true },
        { BuiltInRoles.Contributor.Id, Sub, "Microsoft.Authorization/roleAssignments/write", Rg1, false },
        { BuiltInRoles.Contributor.Id, Sub, "Microsoft.Authorization/roleAssignments/delete", Rg1, false },
        { BuiltInRoles.Contributor.Id, Sub, "Microsoft.Authorization/roleAssignments/read", Rg1, true },
        { BuiltInRoles.Owner.Id, Sub, "Microsoft.Authorization/roleAssignments/write", Rg1, true },
        { BuiltInRoles.Owner.Id, Sub, "Holdfast.Fabric/hosts/write", Fabric, false },
        { BuiltInRoles.UserAccessAdministrator.Id, Rg1, "Microsoft.Authorization/roleAssignments/write", Rg1, true },
        { BuiltInRoles.UserAccessAdministrator.Id, Rg1, "Microsoft.Network/virtualNetworks/write", Vnet, false },
        { BuiltInRoles.NetworkContributor.Id, Rg1, "Microsoft.Network/virtualNetworks/write", Vnet, true },
        { BuiltInRoles.NetworkContributor.Id, Rg1, "Microsoft.Compute/virtualMachines/write", Rg1 + "/providers/Microsoft.Compute/virtualMachines/vm1", false },
        { BuiltInRoles.VirtualMachineContributor.Id, Rg1, "Microsoft.Compute/virtualMachines/restart/action", Rg1 + "/providers/Microsoft.Compute/virtualMachines/vm1", true },
        { BuiltInRoles.VirtualMachineContributor.Id, Rg1, "Microsoft.Network/virtualNetworks/write", Vnet, false },
        { BuiltInRoles.VirtualMachineContributor.Id, Rg1, "Microsoft.Network/virtualNetworks/subnets/join/action", Vnet + "/subnets/a", true },
        { BuiltInRoles.CloudOperator.Id, Scopes.Root, "Holdfast.Fabric/hosts/write", Fabric, true },
        { BuiltInRoles.CloudOperator.Id, Scopes.Root, "Microsoft.Network/virtualNetworks/write", Vnet, true },
        { BuiltInRoles.CapacityReader.Id, Scopes.Root, "Holdfast.Fabric/hosts/read", Fabric, true },
        { BuiltInRoles.CapacityReader.Id, Scopes.Root, "Holdfast.Fabric/hosts/write", Fabric, false },
        { BuiltInRoles.CapacityReader.Id, Scopes.Root, "Microsoft.Network/virtualNetworks/read", Vnet, false },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public void Check_RoleActionScopeMatrix_FollowsAzureSemantics(string roleId, string assignedAt, string action, string target, bool allowed)
    {
        var assignments = new[] { Assignment(Alice, roleId, assignedAt) };

        var decision = AccessEvaluator.Check([Alice], action, target, assignments, BuiltInRoles.Find);

        Assert.Equal(allowed, decision.Allowed);
    }

    [Fact]
    public void Check_NoAssignment_DeniesByDefault()
    {
        var decision = AccessEvaluator.Check([Alice], "Microsoft.Resources/subscriptions/resourceGroups/read", Rg1, [], BuiltInRoles.Find);
        Assert.False(decision.Allowed);
    }

    [Fact]
    public void Check_AssignmentOfAnotherPrincipal_DoesNotGrant()
    {
        var decision = AccessEvaluator.Check([Alice], "Microsoft.Network/virtualNetworks/read", Vnet, [Assignment(Bob, BuiltInRoles.Owner.Id, Sub)], BuiltInRoles.Find);
        Assert.False(decision.Allowed);
    }

    [Fact]
    public void Check_GroupMembership_GrantsThroughTheGroupsPrincipalId()
    {
        const string group = "33333333-3333-3333-3333-333333333333";
        var decision = AccessEvaluator.Check([Alice, group], "Microsoft.Network/virtualNetworks/read", Vnet, [Assignment(group, BuiltInRoles.Reader.Id, Sub)], BuiltInRoles.Find);
        Assert.True(decision.Allowed);
        Assert.Equal(group, Assert.Single(decision.Granting).PrincipalId);
    }

    [Fact]
    public void Check_CustomRoleWithNotActions_SubtractsWithinItsOwnBlock()
    {
        var custom = new RoleDefinition
        {
            Id = "44444444-4444-4444-4444-444444444444",
            RoleName = "Network operator without delete",
            Permissions = [new RolePermission { Actions = ["Microsoft.Network/*"], NotActions = ["Microsoft.Network/*/delete"] }],
            AssignableScopes = [Sub],
        };
        RoleDefinition? Find(string id) => id == custom.Id ? custom : BuiltInRoles.Find(id);
        var assignments = new[] { Assignment(Alice, custom.Id, Rg1) };

        Assert.True(AccessEvaluator.Check([Alice], "Microsoft.Network/virtualNetworks/write", Vnet, assignments, Find).Allowed);
        Assert.False(AccessEvaluator.Check([Alice], "Microsoft.Network/virtualNetworks/delete", Vnet, assignments, Find).Allowed);
        Assert.True(custom.IsAssignableAt(Rg1));
        Assert.False(custom.IsAssignableAt("/subscriptions/bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"));
    }

    [Fact]
    public void Check_NotActionsAreNotDenies_AnotherRoleStillGrants()
    {
        // Azure RBAC has no deny in NotActions: Contributor's excluded action is granted by a second role.
        var assignments = new[] { Assignment(Alice, BuiltInRoles.Contributor.Id, Sub), Assignment(Alice, BuiltInRoles.UserAccessAdministrator.Id, Rg1) };
        Assert.True(AccessEvaluator.Check([Alice], "Microsoft.Authorization/roleAssignments/write", Rg1, assignments, BuiltInRoles.Find).Allowed);
        Assert.False(AccessEvaluator.Check([Alice], "Microsoft.Authorization/roleAssignments/write", Rg10, assignments, BuiltInRoles.Find).Allowed);
    }

    [Theory]
    [InlineData("/", true)]
    [InlineData(Sub, false)]
    [InlineData(Rg1, false)]
    public void OperatorRoles_AreAssignableOnlyAtTheRoot(string scope, bool assignable)
    {
        Assert.Equal(assignable, BuiltInRoles.CloudOperator.IsAssignableAt(scope));
        Assert.True(BuiltInRoles.Owner.IsAssignableAt(scope));
    }

    [Fact]
    public void EffectivePermissions_CollectsEveryBlockAtAndAboveTheScope()
    {
        var assignments = new[] { Assignment(Alice, BuiltInRoles.Reader.Id, Sub), Assignment(Alice, BuiltInRoles.NetworkContributor.Id, Rg1), Assignment(Alice, BuiltInRoles.Owner.Id, Rg10) };
        var permissions = AccessEvaluator.EffectivePermissions([Alice], Vnet, assignments, BuiltInRoles.Find);
        Assert.Equal(2, permissions.Count);
    }

    [Theory]
    [InlineData("Holdfast.Operator/subscriptions/write", "/")]
    [InlineData("Holdfast.Identity/servicePrincipals/read", "/")]
    [InlineData("Microsoft.Authorization/roleAssignments/write", "/")]
    [InlineData("Holdfast.Fabric/hosts/read", Fabric)]
    public void Check_OwnerAssignedAtTheRoot_NeverGrantsOperatorRequests(string action, string scope)
    {
        var assignments = new[] { Assignment(Alice, BuiltInRoles.Owner.Id, Scopes.Root), Assignment(Bob, BuiltInRoles.CloudOperator.Id, Scopes.Root) };

        Assert.False(AccessEvaluator.Check([Alice], action, scope, assignments, BuiltInRoles.Find).Allowed);
        Assert.True(AccessEvaluator.Check([Bob], action, scope, assignments, BuiltInRoles.Find).Allowed);
        Assert.True(AccessEvaluator.IsOperatorRequest(action, scope));
    }

    [Fact]
    public void Check_OwnerAssignedAtTheRoot_StillGrantsTenantActionsInSubscriptions()
    {
        var assignments = new[] { Assignment(Alice, BuiltInRoles.Owner.Id, Scopes.Root) };
        Assert.True(AccessEvaluator.Check([Alice], "Microsoft.Network/virtualNetworks/write", Vnet, assignments, BuiltInRoles.Find).Allowed);
        Assert.False(AccessEvaluator.IsOperatorRequest("Microsoft.Network/virtualNetworks/write", Vnet));
    }

    [Fact]
    public void EffectivePermissions_AtTheRoot_OnlyOperatorRolesCount()
    {
        var assignments = new[] { Assignment(Alice, BuiltInRoles.Owner.Id, Scopes.Root), Assignment(Alice, BuiltInRoles.CapacityReader.Id, Scopes.Root) };
        var permissions = AccessEvaluator.EffectivePermissions([Alice], Scopes.Root, assignments, BuiltInRoles.Find);
        Assert.Equal(BuiltInRoles.CapacityReader.Permissions, permissions);
    }

    [Theory]
    [InlineData("/", true)]
    [InlineData("", true)]
    [InlineData(Sub, false)]
    public void Scopes_IsRoot_OnlyForTheRoot(string scope, bool root) => Assert.Equal(root, Scopes.IsRoot(scope));

    [Fact]
    public void BuiltInRoles_HaveAzuresGuids()
    {
        Assert.Equal("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", BuiltInRoles.Owner.Id);
        Assert.Equal("b24988ac-6180-42a0-ab88-20f7382dd24c", BuiltInRoles.Contributor.Id);
        Assert.Equal("acdd72a7-3385-48ef-bd42-f606fba81ae7", BuiltInRoles.Reader.Id);
        Assert.Equal(BuiltInRoles.All.Count, BuiltInRoles.All.Select(r => r.Id).Distinct().Count());
    }

    private static RoleAssignment Assignment(string principal, string roleId, string scope) =>
        new() { Name = Guid.NewGuid().ToString(), PrincipalId = principal, RoleDefinitionId = roleId, Scope = scope };
}
