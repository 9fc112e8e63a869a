using System.Net;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;

namespace Holdfast.Server.Arm.Resources;

/// <summary>
/// A parsed provider path below <c>/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/</c>: an instance
/// (<c>type/name[/type/name]…</c>), a collection (odd segment count, for lists), or an action on an instance.
/// </summary>
internal sealed record ResourceRoute(ResourceTypeDefinition Type, ResourceId? Id, ResourceId? Parent, string? Action)
{
    public bool IsCollection => Id is null && Action is null;

    public static ResourceRoute Parse(ProviderRegistry registry, string subscriptionId, string resourceGroupName, string providerNamespace, string path, string method)
    {
        var provider = registry.FindProvider(providerNamespace)
            ?? throw new ApiException(HttpStatusCode.NotFound, ArmErrorCodes.InvalidResourceNamespace, $"The resource namespace '{providerNamespace}' is invalid.");
        var segments = path.Split('/');
        if (segments.Any(s => s.Length == 0))
        {
            throw new ApiException(HttpStatusCode.BadRequest, "InvalidRequestUri", $"The request URI has an empty segment: '{path}'.");
        }

        var pairs = new List<ResourceIdSegment>();
        for (var i = 0; i + 1 < segments.Length; i += 2)
        {
            pairs.Add(new ResourceIdSegment(segments[i], segments[i + 1]));
        }

        string? action = null;
        string? collectionType = null;
        if (segments.Length % 2 == 1)
        {
            var last = segments[^1];
            var asCollection = FindType(registry, provider.Namespace, pairs.Select(p => p.Type).Append(last));
            if (asCollection is null && pairs.Count > 0 && string.Equals(method, "POST", StringComparison.OrdinalIgnoreCase))
            {
                action = last;
            }
            else
            {
                collectionType = last;
            }
        }

        var typeSegments = pairs.Select(p => p.Type).ToList();
        if (collectionType is not null)
        {
            typeSegments.Add(collectionType);
        }

        var fullType = provider.Namespace + "/" + string.Join('/', typeSegments);
        var type = FindType(registry, provider.Namespace, typeSegments);
        if (type is null || !type.IsGeneric)
        {
            throw new ApiException(HttpStatusCode.NotFound, ArmErrorCodes.InvalidResourceType, $"The resource type '{string.Join('/', typeSegments)}' could not be found in the namespace '{provider.Namespace}'.");
        }

        if (action is not null && !type.Actions.Contains(action, StringComparer.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.NotFound, ArmErrorCodes.InvalidResourceType, $"The resource type '{fullType}/{action}' could not be found in the namespace '{provider.Namespace}'.");
        }

        ResourceId? id = pairs.Count == 0 ? null : ResourceId.Resource(subscriptionId, resourceGroupName, type.ProviderNamespace, [.. pairs]);
        if (collectionType is not null)
        {
            return new ResourceRoute(type, null, id, null);
        }

        return new ResourceRoute(type, id, id!.Parent, action);
    }

    private static ResourceTypeDefinition? FindType(ProviderRegistry registry, string providerNamespace, IEnumerable<string> typeSegments) =>
        registry.FindType(providerNamespace + "/" + string.Join('/', typeSegments));
}
