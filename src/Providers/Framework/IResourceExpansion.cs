using System.Text.Json.Nodes;
using Holdfast.Resources.Ids;

namespace Holdfast.Providers.Framework;

/// <summary>
/// What a type's handler implements to answer a GET with <c>$expand</c> (a VM's <c>instanceView</c>, say): it adds the
/// expanded parts to the stored document before it is served. Without <c>$expand</c> the stored bytes are served as
/// they are.
/// </summary>
public interface IResourceExpansion
{
    /// <summary>Adds what <paramref name="expand"/> asks for to <paramref name="resource"/>; throws <c>ApiException</c> for a value it does not know.</summary>
    ValueTask ExpandAsync(ResourceId id, JsonObject resource, string expand, CancellationToken cancellationToken);
}
