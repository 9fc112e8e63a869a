namespace Holdfast.Identity.Authorization;

/// <summary>
/// Scope containment for RBAC inheritance: a role assigned at a scope applies to that scope and every scope below it.
/// <c>/</c> is the root (the whole cloud, operator only); comparison is case-insensitive on whole path segments, so
/// <c>/subscriptions/s/resourceGroups/rg1</c> does not contain <c>…/rg10</c>.
/// </summary>
public static class Scopes
{
    public const string Root = "/";

    public static bool Contains(string outer, string inner)
    {
        ArgumentNullException.ThrowIfNull(outer);
        ArgumentNullException.ThrowIfNull(inner);
        var o = outer.TrimEnd('/');
        var i = inner.TrimEnd('/');
        if (o.Length == 0)
        {
            return true;
        }

        return i.StartsWith(o, StringComparison.OrdinalIgnoreCase) && (i.Length == o.Length || i[o.Length] == '/');
    }

    /// <summary>True for the root scope <c>/</c> (the whole cloud).</summary>
    public static bool IsRoot(string scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.TrimEnd('/').Length == 0;
    }
}
