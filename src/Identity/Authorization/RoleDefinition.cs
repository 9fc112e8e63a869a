using System.Text.Json.Serialization;

namespace Holdfast.Identity.Authorization;

/// <summary>One permission block of a role, as Azure RBAC writes it: effective actions are Actions minus NotActions.</summary>
public sealed record RolePermission
{
    [JsonPropertyName("actions")]
    public IReadOnlyList<string> Actions { get; init; } = [];

    [JsonPropertyName("notActions")]
    public IReadOnlyList<string> NotActions { get; init; } = [];

    [JsonPropertyName("dataActions")]
    public IReadOnlyList<string> DataActions { get; init; } = [];

    [JsonPropertyName("notDataActions")]
    public IReadOnlyList<string> NotDataActions { get; init; } = [];

    /// <summary>True when <paramref name="action"/> is granted by this block (matched by an Action and by no NotAction).</summary>
    public bool Allows(string action, bool isDataAction = false)
    {
        var (grants, denies) = isDataAction ? (DataActions, NotDataActions) : (Actions, NotActions);
        return grants.Any(p => ActionPattern.Matches(p, action)) && !denies.Any(p => ActionPattern.Matches(p, action));
    }
}

/// <summary>
/// A role: Azure's built-in roles keep Azure's names and GUIDs; custom roles add their own with AssignableScopes.
/// <see cref="Id"/> is the role definition's GUID (ARM's <c>name</c>).
/// </summary>
public sealed record RoleDefinition
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("roleName")]
    public required string RoleName { get; init; }

    [JsonPropertyName("description")]
    public string Description { get; init; } = string.Empty;

    /// <summary><c>BuiltInRole</c> or <c>CustomRole</c>.</summary>
    [JsonPropertyName("type")]
    public string RoleType { get; init; } = "CustomRole";

    [JsonPropertyName("permissions")]
    public required IReadOnlyList<RolePermission> Permissions { get; init; }

    [JsonPropertyName("assignableScopes")]
    public IReadOnlyList<string> AssignableScopes { get; init; } = ["/"];

    /// <summary>Operator roles: assignable only at the root scope, so no subscription-level grant can carry them.</summary>
    [JsonPropertyName("rootScopeOnly")]
    public bool RootScopeOnly { get; init; }

    public bool IsBuiltIn => RoleType == "BuiltInRole";

    public bool Allows(string action, bool isDataAction = false) => Permissions.Any(p => p.Allows(action, isDataAction));

    /// <summary>True when the role may be assigned at <paramref name="scope"/> (it lies within an assignable scope).</summary>
    public bool IsAssignableAt(string scope) =>
        RootScopeOnly ? scope.TrimEnd('/').Length == 0 : AssignableScopes.Any(s => Scopes.Contains(s, scope));
}

/// <summary>A role assignment: a principal holds a role at a scope and everything below it.</summary>
public sealed record RoleAssignment
{
    /// <summary>The assignment's GUID (ARM's <c>name</c>).</summary>
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("scope")]
    public required string Scope { get; init; }

    [JsonPropertyName("roleDefinitionId")]
    public required string RoleDefinitionId { get; init; }

    [JsonPropertyName("principalId")]
    public required string PrincipalId { get; init; }

    [JsonPropertyName("principalType")]
    public string PrincipalType { get; init; } = "ServicePrincipal";
}
