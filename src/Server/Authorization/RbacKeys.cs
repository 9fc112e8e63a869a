namespace Holdfast.Server.Authorization;

/// <summary>
/// The store layout of Azure RBAC (docs/architecture.md, "Storage model"): everything under one prefix, so one watch
/// keeps <see cref="RoleDirectory"/> current. Keys are lower-cased; values are ARM JSON as served (2022-04-01 shape).
/// </summary>
internal static class RbacKeys
{
    public const string Prefix = "/rbac/";
    public const string AssignmentsPrefix = Prefix + "assignments/";
    public const string DefinitionsPrefix = Prefix + "definitions/";
    public const string AssignmentUniquenessPrefix = Prefix + "assignmentkeys/";
    public const string RoleNamesPrefix = Prefix + "rolenames/";
    public const string RoleUsagePrefix = Prefix + "roleusage/";

    /// <summary>Rewritten by every delete of an operator-role assignment: such deletes compare it, so they run one at a time.</summary>
    public const string OperatorGuard = Prefix + "operatorguard";

    /// <summary>A role assignment by its GUID (assignment names are unique across the cloud, as in Azure's tenant).</summary>
    public static string Assignment(string name) => AssignmentsPrefix + name.ToLowerInvariant();

    /// <summary>A custom role definition by its GUID (built-in roles live in code, never in the store).</summary>
    public static string Definition(string name) => DefinitionsPrefix + name.ToLowerInvariant();

    /// <summary>Guards Azure's rule that one principal holds one role at one scope once (<c>RoleAssignmentExists</c>).</summary>
    public static string AssignmentUniqueness(string principalId, string roleDefinitionName, string scope) =>
        AssignmentUniquenessPrefix + principalId.ToLowerInvariant() + "/" + roleDefinitionName.ToLowerInvariant() + Scope(scope);

    /// <summary>
    /// Rewritten by every assignment of a custom role, in the assignment's transaction: a role update or delete compares
    /// it, so an assignment that lands meanwhile makes the role write fail instead of leaving an orphan or a stale check.
    /// </summary>
    public static string RoleUsage(string name) => RoleUsagePrefix + name.ToLowerInvariant();

    /// <summary>Guards unique custom role names within the tenant (<c>RoleDefinitionWithSameNameExists</c>).</summary>
    public static string RoleName(string roleName) => RoleNamesPrefix + Uri.EscapeDataString(roleName.Trim().ToLowerInvariant());

    private static string Scope(string scope)
    {
        var trimmed = scope.TrimEnd('/').ToLowerInvariant();
        return trimmed.Length == 0 ? "/" : trimmed;
    }
}
