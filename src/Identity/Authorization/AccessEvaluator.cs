namespace Holdfast.Identity.Authorization;

/// <summary>The outcome of one access check, with what Azure's 403 message and the activity log need.</summary>
public sealed record AccessDecision(bool Allowed, string Action, string Scope, IReadOnlyList<RoleAssignment> Granting)
{
    public static AccessDecision Deny(string action, string scope) => new(false, action, scope, []);
}

/// <summary>
/// Azure RBAC evaluation, deny by default: a caller may perform an action at a scope when one of its role
/// assignments at that scope or above names a role whose permissions grant the action (Actions minus NotActions,
/// per permission block). Operator separation on top of Azure's rules: an operator request — any action at the root
/// scope <c>/</c>, or any action in a <c>Holdfast.*</c> namespace — is granted only by operator roles
/// (<see cref="RoleDefinition.RootScopeOnly"/>), so Owner, wherever it is assigned (even at <c>/</c>), never reaches
/// operator APIs. Pure: assignments and definitions are passed in.
/// </summary>
public static class AccessEvaluator
{
    public static AccessDecision Check(
        IEnumerable<string> principalIds,
        string action,
        string scope,
        IEnumerable<RoleAssignment> assignments,
        Func<string, RoleDefinition?> findRole,
        bool isDataAction = false)
    {
        ArgumentNullException.ThrowIfNull(principalIds);
        ArgumentNullException.ThrowIfNull(assignments);
        ArgumentNullException.ThrowIfNull(findRole);
        var principals = new HashSet<string>(principalIds, StringComparer.OrdinalIgnoreCase);
        var operatorRequest = IsOperatorRequest(action, scope);
        var granting = new List<RoleAssignment>();
        foreach (var assignment in assignments)
        {
            if (!principals.Contains(assignment.PrincipalId) || !Scopes.Contains(assignment.Scope, scope))
            {
                continue;
            }

            var role = findRole(assignment.RoleDefinitionId);
            if (role is not null && (role.RootScopeOnly || !operatorRequest) && role.Allows(action, isDataAction))
            {
                granting.Add(assignment);
            }
        }

        return new AccessDecision(granting.Count > 0, action, scope, granting);
    }

    /// <summary>The permission blocks that apply to a caller at a scope (for <c>Microsoft.Authorization/permissions</c>).</summary>
    public static IReadOnlyList<RolePermission> EffectivePermissions(
        IEnumerable<string> principalIds,
        string scope,
        IEnumerable<RoleAssignment> assignments,
        Func<string, RoleDefinition?> findRole)
    {
        ArgumentNullException.ThrowIfNull(principalIds);
        ArgumentNullException.ThrowIfNull(assignments);
        ArgumentNullException.ThrowIfNull(findRole);
        var principals = new HashSet<string>(principalIds, StringComparer.OrdinalIgnoreCase);
        var root = Scopes.IsRoot(scope);
        return assignments
            .Where(a => principals.Contains(a.PrincipalId) && Scopes.Contains(a.Scope, scope))
            .Select(a => findRole(a.RoleDefinitionId))
            .OfType<RoleDefinition>()
            .Where(r => r.RootScopeOnly || !root)
            .SelectMany(r => r.Permissions)
            .ToList();
    }

    /// <summary>True for a request only operator roles may grant: any action at the root scope, or a <c>Holdfast.*</c> action anywhere.</summary>
    public static bool IsOperatorRequest(string action, string scope)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(scope);
        return Scopes.IsRoot(scope) || action.StartsWith(OperatorNamespacePrefix, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Holdfast's operator namespaces (<c>Holdfast.Operator</c>, <c>Holdfast.Identity</c>, <c>Holdfast.Fabric</c>, …).</summary>
    public const string OperatorNamespacePrefix = "Holdfast.";
}
