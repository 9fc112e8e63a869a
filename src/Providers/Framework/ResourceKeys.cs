using Holdfast.Resources.Ids;

namespace Holdfast.Providers.Framework;

/// <summary>
/// The store layout of the ARM model. Keys are lower-cased (ARM ids are case-insensitive) and partitioned so that every
/// list the API serves is one prefix range: a subscription's groups, a group's resources, a subscription's resources.
/// Values keep the casing the client gave. See docs/architecture.md, "Storage model".
/// </summary>
public static class ResourceKeys
{
    public const string TenantsPrefix = "/tenants/";
    public const string SubscriptionsPrefix = "/subscriptions/";
    public const string GroupsPrefix = "/groups/";
    public const string ResourcesPrefix = "/resources/";
    public const string OperationsPrefix = "/operations/";
    public const string OperationRefsPrefix = "/operationrefs/";
    public const string RegistrationsPrefix = "/registrations/";
    public const string PrincipalsPrefix = "/principals/";
    public const string BootstrapKey = "/bootstrap";

    public static string Tenant(string tenantId) => TenantsPrefix + tenantId.ToLowerInvariant();

    public static string Subscription(string subscriptionId) => SubscriptionsPrefix + subscriptionId.ToLowerInvariant();

    public static string GroupsOf(string subscriptionId) => GroupsPrefix + subscriptionId.ToLowerInvariant() + "/";

    public static string Group(string subscriptionId, string resourceGroupName) => GroupsOf(subscriptionId) + resourceGroupName.ToLowerInvariant();

    public static string ResourcesOfSubscription(string subscriptionId) => ResourcesPrefix + subscriptionId.ToLowerInvariant() + "/";

    public static string ResourcesOfGroup(string subscriptionId, string resourceGroupName) =>
        ResourcesOfSubscription(subscriptionId) + resourceGroupName.ToLowerInvariant() + "/";

    /// <summary>The prefix of every instance of a type (and their children) in a group: <c>…/{ns}/{type}/</c>.</summary>
    public static string ResourcesOfType(string subscriptionId, string resourceGroupName, string providerNamespace, string type) =>
        ResourcesOfGroup(subscriptionId, resourceGroupName) + providerNamespace.ToLowerInvariant() + "/" + type.ToLowerInvariant() + "/";

    /// <summary>The key of a resource-group-scoped resource (nested types included).</summary>
    public static string Resource(ResourceId id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (id.ProviderNamespace is null || id.SubscriptionId is null || id.ResourceGroupName is null || id.Scope is not null)
        {
            throw new ArgumentException($"'{id}' is not a resource-group-scoped resource.", nameof(id));
        }

        var key = ResourcesOfGroup(id.SubscriptionId, id.ResourceGroupName) + id.ProviderNamespace.ToLowerInvariant();
        foreach (var segment in id.Segments)
        {
            key += "/" + segment.Type.ToLowerInvariant() + "/" + segment.Name.ToLowerInvariant();
        }

        return key;
    }

    public static string Operation(string operationId) => OperationsPrefix + operationId.ToLowerInvariant();

    /// <summary>Points from a resource (or group) key to the operation currently driving it.</summary>
    public static string OperationRef(string resourceKey) => OperationRefsPrefix + resourceKey.TrimStart('/');

    public static string Registration(string subscriptionId, string providerNamespace) =>
        RegistrationsPrefix + subscriptionId.ToLowerInvariant() + "/" + providerNamespace.ToLowerInvariant();

    public static string Principal(string tenantId, string appId) => PrincipalsPrefix + tenantId.ToLowerInvariant() + "/" + appId.ToLowerInvariant();

    /// <summary>For a key under <see cref="ResourcesPrefix"/>, the key of its resource group.</summary>
    public static string? GroupOfResource(string resourceKey)
    {
        if (!resourceKey.StartsWith(ResourcesPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = resourceKey.AsSpan(ResourcesPrefix.Length);
        var first = parts.IndexOf('/');
        if (first < 0)
        {
            return null;
        }

        var second = parts[(first + 1)..].IndexOf('/');
        return second < 0 ? null : GroupsPrefix + parts[..(first + 1 + second)].ToString();
    }
}
