namespace Holdfast.Providers.Framework;

/// <summary>All providers this server serves, looked up case-insensitively by namespace and type.</summary>
public sealed class ProviderRegistry
{
    private readonly Dictionary<string, ResourceProviderDefinition> _providers = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, ResourceTypeDefinition> _types = new(StringComparer.OrdinalIgnoreCase);

    public ProviderRegistry(IEnumerable<ResourceProviderDefinition> providers)
    {
        ArgumentNullException.ThrowIfNull(providers);
        foreach (var provider in providers)
        {
            if (!_providers.TryAdd(provider.Namespace, provider))
            {
                throw new ArgumentException($"Provider namespace '{provider.Namespace}' is declared twice.", nameof(providers));
            }

            foreach (var type in provider.ResourceTypes)
            {
                _types.Add(type.FullType, type);
            }
        }
    }

    public IEnumerable<ResourceProviderDefinition> Providers => _providers.Values.OrderBy(p => p.Namespace, StringComparer.OrdinalIgnoreCase);

    public ResourceProviderDefinition? FindProvider(string providerNamespace) => _providers.GetValueOrDefault(providerNamespace);

    /// <summary>Finds a type by its full name, e.g. <c>Microsoft.Network/virtualNetworks/subnets</c>.</summary>
    public ResourceTypeDefinition? FindType(string fullType) => _types.GetValueOrDefault(fullType);
}
