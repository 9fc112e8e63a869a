using System.Text.Json.Nodes;
using Holdfast.Identity.Authorization;
using Holdfast.Server.Authorization;
using Holdfast.Server.Bootstrap;
using Holdfast.State;

namespace Holdfast.Server.Tests.Authorization;

/// <summary>RBAC seeding: the bootstrap admin's two grants, once per store, on new and pre-RBAC stores alike.</summary>
public sealed class RbacSeederTests
{
    private static readonly BootstrapIdentity Bootstrap = new(
        "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222", "33333333-3333-3333-3333-333333333333", "44444444-4444-4444-4444-444444444444");

    [Fact]
    public async Task EnsureAsync_StoreWithoutRbac_SeedsOwnerOfTheSubscriptionAndOperatorAtTheRoot()
    {
        await using var store = new InMemoryStateStore(TimeProvider.System);
        await store.PutAsync("/subscriptions/" + Bootstrap.SubscriptionId, "{}"u8.ToArray(), null, CancellationToken.None);

        await RbacSeeder.EnsureAsync(store, Bootstrap, TimeProvider.System, CancellationToken.None);

        var grants = await AssignmentsAsync(store);
        Assert.Equal(2, grants.Count);
        Assert.Contains(grants, g => g.Role == BuiltInRoles.Owner.Id && g.Scope == "/subscriptions/" + Bootstrap.SubscriptionId && g.Principal == Bootstrap.AdminObjectId);
        Assert.Contains(grants, g => g.Role == BuiltInRoles.CloudOperator.Id && g.Scope == "/" && g.Principal == Bootstrap.AdminObjectId);
    }

    [Fact]
    public async Task EnsureAsync_SecondStartAfterAGrantWasRemoved_DoesNotSeedAgain()
    {
        await using var store = new InMemoryStateStore(TimeProvider.System);
        await RbacSeeder.EnsureAsync(store, Bootstrap, TimeProvider.System, CancellationToken.None);
        var owner = (await store.RangeAsync(new RangeRequest(RbacKeys.AssignmentsPrefix), CancellationToken.None)).Items
            .First(kv => JsonNode.Parse(kv.Value.Span)!["properties"]!["roleDefinitionId"]!.GetValue<string>().EndsWith(BuiltInRoles.Owner.Id, StringComparison.Ordinal));
        await store.DeleteAsync(owner.Key, null, CancellationToken.None);

        await RbacSeeder.EnsureAsync(store, Bootstrap, TimeProvider.System, CancellationToken.None);

        var grants = await AssignmentsAsync(store);
        Assert.Equal(BuiltInRoles.CloudOperator.Id, Assert.Single(grants).Role);
    }

    private static async Task<List<(string Role, string Scope, string Principal)>> AssignmentsAsync(InMemoryStateStore store)
    {
        var page = await store.RangeAsync(new RangeRequest(RbacKeys.AssignmentsPrefix), CancellationToken.None);
        return page.Items.Select(kv => RoleAssignmentEntry.From(kv.Value).Assignment).Select(a => (a.RoleDefinitionId, a.Scope, a.PrincipalId)).ToList();
    }
}
