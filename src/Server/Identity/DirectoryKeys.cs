using Holdfast.Providers.Framework;

namespace Holdfast.Server.Identity;

/// <summary>
/// The store layout of the directory (service principals, their names, users, groups). Every key starts with
/// <see cref="Prefix"/>, so one watch keeps <see cref="PrincipalDirectory"/> current. Keys are lower-cased; the
/// service principal's own key stays <c>/principals/{tenant}/{appId}</c> because the token endpoint finds it by client id.
/// Resource groups own <c>/groups/</c>, so directory groups live under <c>/principalgroups/</c>.
/// </summary>
internal static class DirectoryKeys
{
    /// <summary>The common prefix of every directory key (deliberately without a trailing slash).</summary>
    public const string Prefix = "/principal";

    public const string NamesPrefix = "/principalnames/";
    public const string UsersPrefix = "/principalusers/";
    public const string GroupsPrefix = "/principalgroups/";

    public static string ServicePrincipalsOf(string tenantId) => ResourceKeys.PrincipalsPrefix + tenantId.ToLowerInvariant() + "/";

    public static string ServicePrincipal(string tenantId, string appId) => ResourceKeys.Principal(tenantId, appId);

    /// <summary>A service principal's name → its app id.</summary>
    public static string ServicePrincipalName(string tenantId, string name) => NamesPrefix + tenantId.ToLowerInvariant() + "/" + name.ToLowerInvariant();

    public static string UsersOf(string tenantId) => UsersPrefix + tenantId.ToLowerInvariant() + "/";

    public static string User(string tenantId, string name) => UsersOf(tenantId) + name.ToLowerInvariant();

    public static string GroupsOf(string tenantId) => GroupsPrefix + tenantId.ToLowerInvariant() + "/";

    public static string Group(string tenantId, string name) => GroupsOf(tenantId) + name.ToLowerInvariant();
}
