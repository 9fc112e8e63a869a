using Holdfast.Providers.Framework;
using Holdfast.Resources.Ids;

namespace Holdfast.Providers.Resources;

/// <summary>
/// Microsoft.Resources: ARM's own types. They are served by dedicated endpoints in Server (resource groups are
/// containers, not generic resources), but declared here so provider discovery and generic-by-id clients see them.
/// <c>tags</c> is deliberately not declared: the official SDK then updates tags with PATCH on the resource itself
/// (shared/reference/azure-sdk-contract.md §4).
/// </summary>
public static class ResourcesProvider
{
    public const string Namespace = "Microsoft.Resources";

    /// <summary>Public Azure's resource-group api-versions, plus 2019-10-01 (Azure Stack Hub's 2020-09-01-hybrid profile).</summary>
    public static readonly IReadOnlyList<string> ResourceGroupApiVersions =
    [
        "2025-04-01", "2025-03-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-07-01", "2022-12-01", "2022-09-01",
        "2022-05-01", "2022-01-01", "2021-04-01", "2021-01-01", "2020-10-01", "2020-08-01", "2020-06-01", "2019-10-01",
        "2019-09-01", "2019-08-01", "2019-07-01", "2019-05-10", "2019-05-01", "2019-03-01", "2018-05-01", "2018-02-01",
        "2017-05-10", "2016-09-01", "2016-07-01", "2016-06-01", "2016-02-01", "2015-11-01",
    ];

    /// <summary>Subscription api-versions; 2016-06-01 is what the 2020-09-01-hybrid profile sends.</summary>
    public static readonly IReadOnlyList<string> SubscriptionApiVersions =
    [
        "2025-04-01", "2025-03-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-07-01", "2022-12-01", "2022-09-01",
        "2022-01-01", "2021-01-01", "2020-01-01", "2019-11-01", "2019-06-01", "2018-06-01", "2016-06-01", "2015-11-01",
    ];

    public static ResourceProviderDefinition Create()
    {
        var handler = new ServedElsewhere();
        return new ResourceProviderDefinition(Namespace,
        [
            new ResourceTypeDefinition(Namespace, "resourceGroups", ResourceGroupApiVersions, handler)
            {
                Scope = ResourceScope.Subscription,
                NameRule = NameRule.ResourceGroup,
                HasETag = false,
                IsGeneric = false,
            },
            new ResourceTypeDefinition(Namespace, "subscriptions", SubscriptionApiVersions, handler)
            {
                Scope = ResourceScope.Tenant,
                RequiresLocation = false,
                HasETag = false,
                IsGeneric = false,
            },
            new ResourceTypeDefinition(Namespace, "resources", ResourceGroupApiVersions, handler) { Scope = ResourceScope.Subscription, RequiresLocation = false, IsGeneric = false },
            new ResourceTypeDefinition(Namespace, "providers", ResourceGroupApiVersions, handler) { Scope = ResourceScope.Tenant, RequiresLocation = false, IsGeneric = false },
            new ResourceTypeDefinition(Namespace, "subscriptions/locations", SubscriptionApiVersions, handler) { Scope = ResourceScope.Tenant, RequiresLocation = false, IsGeneric = false },
            new ResourceTypeDefinition(Namespace, "subscriptions/operationresults", ResourceGroupApiVersions, handler) { Scope = ResourceScope.Tenant, RequiresLocation = false, IsGeneric = false },
        ]);
    }

    private sealed class ServedElsewhere : ResourceTypeHandler;
}
