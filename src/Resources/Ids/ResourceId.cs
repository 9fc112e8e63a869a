using System.Text;

namespace Holdfast.Resources.Ids;

/// <summary>One <c>type/name</c> pair under a provider namespace.</summary>
public readonly record struct ResourceIdSegment(string Type, string Name);

/// <summary>
/// An Azure Resource Manager resource id: <c>/subscriptions/{sub}[/resourceGroups/{rg}][/providers/{ns}/{type}/{name}[/{type}/{name}]…]</c>,
/// tenant-level <c>/providers/{ns}/{type}/{name}</c>, or an extension resource <c>{scope}/providers/{ns}/{type}/{name}</c>.
/// Comparison is case-insensitive as in ARM; the casing the client gave is preserved for display.
/// </summary>
public sealed class ResourceId : IEquatable<ResourceId>
{
    public const string SubscriptionType = "Microsoft.Resources/subscriptions";
    public const string ResourceGroupType = "Microsoft.Resources/resourceGroups";

    private readonly string _text;

    private ResourceId(ResourceId? scope, string? subscriptionId, string? resourceGroupName, string? providerNamespace, IReadOnlyList<ResourceIdSegment> segments)
    {
        Scope = scope;
        SubscriptionId = subscriptionId;
        ResourceGroupName = resourceGroupName;
        ProviderNamespace = providerNamespace;
        Segments = segments;
        _text = Format();
    }

    /// <summary>For an extension resource, the resource it extends; otherwise null.</summary>
    public ResourceId? Scope { get; }

    public string? SubscriptionId { get; }

    public string? ResourceGroupName { get; }

    /// <summary>Null for subscriptions and resource groups themselves.</summary>
    public string? ProviderNamespace { get; }

    public IReadOnlyList<ResourceIdSegment> Segments { get; }

    public bool IsSubscription => ProviderNamespace is null && ResourceGroupName is null && Scope is null;

    public bool IsResourceGroup => ProviderNamespace is null && ResourceGroupName is not null;

    /// <summary>The full type, e.g. <c>Microsoft.Network/virtualNetworks/subnets</c>.</summary>
    public string ResourceType => ProviderNamespace is null
        ? (IsResourceGroup ? ResourceGroupType : SubscriptionType)
        : ProviderNamespace + "/" + string.Join('/', Segments.Select(s => s.Type));

    public string Name => ProviderNamespace is null ? (ResourceGroupName ?? SubscriptionId!) : Segments[^1].Name;

    /// <summary>The enclosing resource: a nested resource's parent, a top-level resource's group or subscription.</summary>
    public ResourceId? Parent
    {
        get
        {
            if (ProviderNamespace is not null)
            {
                if (Segments.Count > 1)
                {
                    return new ResourceId(Scope, SubscriptionId, ResourceGroupName, ProviderNamespace, Segments.Take(Segments.Count - 1).ToArray());
                }

                return Scope ?? (ResourceGroupName is not null ? ResourceGroup(SubscriptionId!, ResourceGroupName) : SubscriptionId is not null ? Subscription(SubscriptionId) : null);
            }

            return ResourceGroupName is not null ? Subscription(SubscriptionId!) : null;
        }
    }

    public static ResourceId Subscription(string subscriptionId) => new(null, subscriptionId, null, null, []);

    public static ResourceId ResourceGroup(string subscriptionId, string resourceGroupName) => new(null, subscriptionId, resourceGroupName, null, []);

    public static ResourceId Resource(string? subscriptionId, string? resourceGroupName, string providerNamespace, params ResourceIdSegment[] segments)
    {
        ArgumentOutOfRangeException.ThrowIfZero(segments.Length);
        return new(null, subscriptionId, resourceGroupName, providerNamespace, segments);
    }

    public static ResourceId Extension(ResourceId scope, string providerNamespace, params ResourceIdSegment[] segments)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentOutOfRangeException.ThrowIfZero(segments.Length);
        return new(scope, scope.SubscriptionId, scope.ResourceGroupName, providerNamespace, segments);
    }

    public ResourceId Child(string type, string name)
    {
        if (ProviderNamespace is null)
        {
            throw new InvalidOperationException("A subscription or resource group has no child types; use Resource().");
        }

        return new ResourceId(Scope, SubscriptionId, ResourceGroupName, ProviderNamespace, [.. Segments, new ResourceIdSegment(type, name)]);
    }

    public static ResourceId Parse(string id) =>
        TryParse(id, out var result, out var error) ? result : throw new FormatException(error);

    /// <summary>Parses an id; on failure <paramref name="error"/> says what is wrong, in words fit for an API error.</summary>
    public static bool TryParse(string? id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ResourceId? result, out string? error)
    {
        result = null;
        if (string.IsNullOrEmpty(id) || id[0] != '/')
        {
            error = "A resource id must start with '/subscriptions/' or '/providers/'.";
            return false;
        }

        var parts = id.Split('/');
        // parts[0] is empty (leading slash); a trailing slash yields an empty last part, which we reject.
        var segments = parts.AsSpan(1);
        foreach (var part in segments)
        {
            if (part.Length == 0)
            {
                error = $"The resource id '{id}' has an empty segment.";
                return false;
            }
        }

        ResourceId? current = null;
        var i = 0;
        if (segments.Length >= 2 && segments[0].Equals("subscriptions", StringComparison.OrdinalIgnoreCase))
        {
            current = Subscription(segments[1]);
            i = 2;
            if (segments.Length >= 4 && segments[2].Equals("resourceGroups", StringComparison.OrdinalIgnoreCase))
            {
                current = ResourceGroup(segments[1], segments[3]);
                i = 4;
            }
        }

        while (i < segments.Length)
        {
            if (!segments[i].Equals("providers", StringComparison.OrdinalIgnoreCase) || segments.Length - i < 4)
            {
                error = $"The resource id '{id}' is not of the form '/subscriptions/{{id}}/resourceGroups/{{name}}/providers/{{namespace}}/{{type}}/{{name}}'.";
                return false;
            }

            var ns = segments[i + 1];
            var j = i + 2;
            var pairs = new List<ResourceIdSegment>();
            while (j + 1 < segments.Length && !segments[j].Equals("providers", StringComparison.OrdinalIgnoreCase))
            {
                pairs.Add(new ResourceIdSegment(segments[j], segments[j + 1]));
                j += 2;
            }

            if (pairs.Count == 0 || (j < segments.Length && !segments[j].Equals("providers", StringComparison.OrdinalIgnoreCase)))
            {
                error = $"The resource id '{id}' has a resource type without a name.";
                return false;
            }

            var scopeIsContainer = current is null || current.ProviderNamespace is null;
            current = scopeIsContainer
                ? new ResourceId(null, current?.SubscriptionId, current?.ResourceGroupName, ns, pairs)
                : new ResourceId(current, current!.SubscriptionId, current.ResourceGroupName, ns, pairs);
            i = j;
        }

        if (current is null)
        {
            error = $"The resource id '{id}' is not a valid Azure Resource Manager id.";
            return false;
        }

        result = current;
        error = null;
        return true;
    }

    private string Format()
    {
        var sb = new StringBuilder();
        if (Scope is not null)
        {
            sb.Append(Scope._text);
        }
        else
        {
            if (SubscriptionId is not null)
            {
                sb.Append("/subscriptions/").Append(SubscriptionId);
            }

            if (ResourceGroupName is not null)
            {
                sb.Append("/resourceGroups/").Append(ResourceGroupName);
            }
        }

        if (ProviderNamespace is not null)
        {
            sb.Append("/providers/").Append(ProviderNamespace);
            foreach (var segment in Segments)
            {
                sb.Append('/').Append(segment.Type).Append('/').Append(segment.Name);
            }
        }

        return sb.ToString();
    }

    public override string ToString() => _text;

    public bool Equals(ResourceId? other) => other is not null && string.Equals(_text, other._text, StringComparison.OrdinalIgnoreCase);

    public override bool Equals(object? obj) => obj is ResourceId other && Equals(other);

    public override int GetHashCode() => StringComparer.OrdinalIgnoreCase.GetHashCode(_text);

    public static bool operator ==(ResourceId? left, ResourceId? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(ResourceId? left, ResourceId? right) => !(left == right);
}
