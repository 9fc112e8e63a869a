using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.State;

namespace Holdfast.Providers.Network;

/// <summary>Checks of one resource's reference to another (<c>{"id": "…"}</c>), with Azure's error codes.</summary>
internal static class NetworkReferences
{
    /// <summary>The id in <c>node.id</c> when it is a well-formed id of <paramref name="expectedType"/>; otherwise null with an error added.</summary>
    public static ResourceId? ParseReference(JsonNode? node, string expectedType, string target, Action<string, string, string> addError)
    {
        var text = (node as JsonObject)?["id"] is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;
        if (text is null || !ResourceId.TryParse(text, out var id, out _) || id.SubscriptionId is null || id.ResourceGroupName is null || id.ProviderNamespace is null || id.Scope is not null)
        {
            addError("LinkedInvalidPropertyId", $"Property id '{text}' at path '{target}.id' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{{subscriptionId}}' or '/providers/{{resourceProviderNamespace}}/'.", target + ".id");
            return null;
        }

        if (!string.Equals(id.ResourceType, expectedType, StringComparison.OrdinalIgnoreCase))
        {
            addError("InvalidResourceReference", $"Resource '{text}' at path '{target}.id' is not of type '{expectedType}'.", target + ".id");
            return null;
        }

        return id;
    }

    /// <summary>
    /// Reads a referenced resource that must exist and not be on its way out; throws Azure's
    /// <c>InvalidResourceReference</c> otherwise.
    /// </summary>
    public static async ValueTask<KeyValue> RequireAsync(IStateStore store, ResourceId referenced, ResourceId referrer, CancellationToken cancellationToken)
    {
        var kv = await store.GetAsync(ResourceKeys.Resource(referenced), cancellationToken).ConfigureAwait(false);
        if (kv is null || string.Equals(ResourceDocument.GetProvisioningState(ResourceDocument.Parse(kv.Value)), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.BadRequest, "InvalidResourceReference", $"Resource {referenced} referenced by resource {referrer} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.");
        }

        return kv;
    }

    public static string? IdOf(JsonNode? reference) =>
        (reference as JsonObject)?["id"] is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;
}
