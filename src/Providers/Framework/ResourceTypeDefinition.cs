using Holdfast.Resources.Ids;
using Holdfast.Resources.Versions;

namespace Holdfast.Providers.Framework;

/// <summary>Where instances of a type live.</summary>
public enum ResourceScope
{
    ResourceGroup,
    Subscription,
    Tenant,
}

/// <summary>
/// Everything the generic ARM pipeline needs to serve one resource type: its names, api-versions (a wide explicit
/// range, Azure Stack Hub's hybrid-profile versions included, listed newest first), name rule, location rule,
/// the handler that validates, defaults and reconciles it, and the POST actions it accepts.
/// </summary>
public sealed class ResourceTypeDefinition
{
    private readonly HashSet<string> _apiVersions;

    public ResourceTypeDefinition(string providerNamespace, string type, IEnumerable<string> apiVersions, IResourceTypeHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(providerNamespace);
        ArgumentException.ThrowIfNullOrEmpty(type);
        ArgumentNullException.ThrowIfNull(apiVersions);
        ArgumentNullException.ThrowIfNull(handler);
        ProviderNamespace = providerNamespace;
        Type = type;
        Handler = handler;
        var parsed = apiVersions.Select(v => ApiVersion.TryParse(v, out var p) ? p : throw new ArgumentException($"'{v}' is not an api-version.", nameof(apiVersions)));
        ApiVersions = parsed.OrderDescending().Select(v => v.ToString()).Distinct(StringComparer.Ordinal).ToArray();
        if (ApiVersions.Count == 0)
        {
            throw new ArgumentException("A resource type needs at least one api-version.", nameof(apiVersions));
        }

        _apiVersions = new HashSet<string>(ApiVersions, StringComparer.OrdinalIgnoreCase);
    }

    public string ProviderNamespace { get; }

    /// <summary>The type below the namespace, e.g. <c>virtualNetworks</c> or <c>virtualNetworks/subnets</c>.</summary>
    public string Type { get; }

    public string FullType => ProviderNamespace + "/" + Type;

    /// <summary>Newest first; the first is what generic-resource clients use.</summary>
    public IReadOnlyList<string> ApiVersions { get; }

    public IResourceTypeHandler Handler { get; }

    public ResourceScope Scope { get; init; } = ResourceScope.ResourceGroup;

    public bool RequiresLocation { get; init; } = true;

    /// <summary>Whether responses carry an <c>etag</c> property (the store revision), as Network resources do.</summary>
    public bool HasETag { get; init; } = true;

    /// <summary>Whether a create answers 200 rather than 201 (Azure's synchronous creates, e.g. availability sets).</summary>
    public bool CreateReturnsOk { get; init; }

    public NameRule NameRule { get; init; } = NameRule.Default;

    /// <summary>POST actions on an instance, e.g. <c>start</c>; matched case-insensitively.</summary>
    public IReadOnlyList<string> Actions { get; init; } = [];

    /// <summary>Serves instances through the generic pipeline; false for types an assembly serves itself.</summary>
    public bool IsGeneric { get; init; } = true;

    public bool SupportsApiVersion(string apiVersion) => _apiVersions.Contains(apiVersion);
}

/// <summary>A resource provider: a namespace and its types, as <c>/providers/{namespace}</c> describes it.</summary>
public sealed class ResourceProviderDefinition(string providerNamespace, IReadOnlyList<ResourceTypeDefinition> resourceTypes)
{
    public string Namespace { get; } = providerNamespace;

    public IReadOnlyList<ResourceTypeDefinition> ResourceTypes { get; } = resourceTypes;

    /// <summary>Registered in every subscription unless an operator unregisters it (Azure registers core providers by default).</summary>
    public bool RegisteredByDefault { get; init; } = true;
}
