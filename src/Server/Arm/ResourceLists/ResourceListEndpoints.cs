using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Resources;
using Holdfast.Resources.Ids;
using Holdfast.Server.Authorization;
using Holdfast.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Arm.ResourceLists;

/// <summary>
/// The generic resource lists, <c>/subscriptions/{id}/resources</c> and <c>…/resourceGroups/{rg}/resources</c>: every
/// tracked resource as <c>{id,name,type,location,tags}</c> (plus kind, sku, managedBy, identity when set), with filters and paging.
/// </summary>
internal static class ResourceListEndpoints
{
    private static readonly string[] Projected = ["id", "name", "type", "kind", "location", "tags", "sku", "managedBy", "identity", "plan", "zones", "extendedLocation"];

    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: ResourcesProvider.ResourceGroupApiVersions);
        routes.MapGet("/subscriptions/{subscriptionId}/resources", (HttpContext c, string subscriptionId) => ListAsync(c, subscriptionId, null)).WithMetadata(metadata);
        routes.MapGet("/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}/resources", (HttpContext c, string subscriptionId, string resourceGroupName) => ListAsync(c, subscriptionId, resourceGroupName)).WithMetadata(metadata);
    }

    /// <summary>
    /// As ARM: the whole subscription's resources for a caller who may read them there; only the readable ones for a
    /// caller with roles on some groups or resources; 403 for a caller without any role in the subscription.
    /// </summary>
    private static async Task<Func<KeyValue, bool>?> ReadableResourcesAsync(HttpContext context, RequestAuthorizer authorizer, string subscriptionId)
    {
        const string action = "Microsoft.Resources/subscriptions/resources/read";
        if (await authorizer.AuthorizeListAsync(context, action, subscriptionId).ConfigureAwait(false) is not { } access)
        {
            return null;
        }

        return kv =>
        {
            var resource = ResourceDocument.Parse(kv.Value);
            var id = resource["id"]?.GetValue<string>();
            var type = resource["type"]?.GetValue<string>();
            return id is not null && type is not null && access.Allows(type + "/read", id);
        };
    }

    private static async Task ListAsync(HttpContext context, string subscriptionId, string? resourceGroupName)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, caller, context.RequestAborted).ConfigureAwait(false);
        var authorizer = context.RequestServices.GetRequiredService<RequestAuthorizer>();
        string prefix;
        Func<KeyValue, bool>? include = null;
        if (resourceGroupName is null)
        {
            include = await ReadableResourcesAsync(context, authorizer, subscription.SubscriptionId).ConfigureAwait(false);
            prefix = ResourceKeys.ResourcesOfSubscription(subscriptionId);
        }
        else
        {
            await authorizer.AuthorizeAsync(context, "Microsoft.Resources/subscriptions/resourceGroups/resources/read", ResourceId.ResourceGroup(subscription.SubscriptionId, resourceGroupName).ToString()).ConfigureAwait(false);
            await data.GetGroupAsync(subscriptionId, resourceGroupName, context.RequestAborted).ConfigureAwait(false);
            prefix = ResourceKeys.ResourcesOfGroup(subscriptionId, resourceGroupName);
        }

        var query = ListQuery.Parse(context.Request, prefix);
        var (items, continueAfter) = await query.ReadPageAsync(data.Store, prefix, include, context.RequestAborted, topLevelOnly: true).ConfigureAwait(false);
        var value = new JsonArray();
        foreach (var (resource, _) in items)
        {
            var projected = new JsonObject();
            foreach (var name in Projected)
            {
                if (resource[name] is { } node)
                {
                    projected[name] = node.DeepClone();
                }
            }

            value.Add(projected);
        }

        var body = new JsonObject { ["value"] = value };
        if (continueAfter is not null)
        {
            body["nextLink"] = ListQuery.NextLink(context, continueAfter);
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, body).ConfigureAwait(false);
    }
}
