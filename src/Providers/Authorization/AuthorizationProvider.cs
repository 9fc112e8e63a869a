using Holdfast.Providers.Framework;

namespace Holdfast.Providers.Authorization;

/// <summary>
/// Microsoft.Authorization: Azure RBAC's role assignments, role definitions and the caller's permissions. Served by
/// dedicated endpoints in Server (Server/Authorization), declared here so provider discovery lists the types and
/// api-versions: 2022-04-01 (current Azure SDKs) and 2015-07-01 (the hybrid profiles Azure Stack Hub clients send).
/// </summary>
public static class AuthorizationProvider
{
    public const string Namespace = "Microsoft.Authorization";

    public static readonly IReadOnlyList<string> ApiVersions = ["2022-04-01", "2015-07-01"];

    public static ResourceProviderDefinition Create()
    {
        var handler = new ServedElsewhere();
        return new ResourceProviderDefinition(Namespace,
        [
            new ResourceTypeDefinition(Namespace, "roleAssignments", ApiVersions, handler) { Scope = ResourceScope.Tenant, RequiresLocation = false, HasETag = false, IsGeneric = false },
            new ResourceTypeDefinition(Namespace, "roleDefinitions", ApiVersions, handler) { Scope = ResourceScope.Tenant, RequiresLocation = false, HasETag = false, IsGeneric = false },
            new ResourceTypeDefinition(Namespace, "permissions", ApiVersions, handler) { Scope = ResourceScope.Tenant, RequiresLocation = false, HasETag = false, IsGeneric = false },
        ]);
    }

    private sealed class ServedElsewhere : ResourceTypeHandler;
}
