using System.Text;
using Holdfast.Identity.Authorization;
using Holdfast.Server.Bootstrap;
using Holdfast.State;

namespace Holdfast.Server.Authorization;

/// <summary>
/// Seeds RBAC once per data directory: the bootstrap admin becomes Owner of the default subscription and Holdfast
/// Cloud Operator at the root scope. Runs at every start and acts only while <see cref="SeededKey"/> is absent, so a
/// data directory from before RBAC is migrated on its first start, and an operator who later removes these
/// assignments does not get them back on restart. One transaction, guarded by the marker's absence.
/// </summary>
internal static class RbacSeeder
{
    public const string SeededKey = RbacKeys.Prefix + "seeded";

    public static async Task EnsureAsync(IStateStore store, BootstrapIdentity bootstrap, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(bootstrap);
        if (await store.GetAsync(SeededKey, cancellationToken).ConfigureAwait(false) is not null)
        {
            return;
        }

        var now = timeProvider.GetUtcNow();
        var ops = new List<TxnOp> { TxnOp.Put(SeededKey, Encoding.UTF8.GetBytes(now.ToString("O", System.Globalization.CultureInfo.InvariantCulture))) };
        var grants = new[] { (Role: BuiltInRoles.Owner, Scope: "/subscriptions/" + bootstrap.SubscriptionId), (Role: BuiltInRoles.CloudOperator, Scope: Scopes.Root) };
        foreach (var (role, scope) in grants)
        {
            var name = Guid.NewGuid().ToString();
            var document = RoleDocuments.NewAssignment(name, scope, role.Id, bootstrap.AdminObjectId, "ServicePrincipal", bootstrap.AdminObjectId, now, "Bootstrap administrator");
            ops.Add(TxnOp.Put(RbacKeys.AssignmentUniqueness(bootstrap.AdminObjectId, role.Id, scope), Encoding.UTF8.GetBytes(name)));
            ops.Add(TxnOp.Put(RbacKeys.Assignment(name), Encoding.UTF8.GetBytes(document.ToJsonString())));
        }

        // Losing the race to another starter (same store) is fine: it seeded the same grants.
        await store.TxnAsync(new TxnRequest([Compare.Absent(SeededKey)], ops), cancellationToken).ConfigureAwait(false);
    }
}
