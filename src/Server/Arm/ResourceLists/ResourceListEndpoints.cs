using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Resources;
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

    private static async Task ListAsync(HttpContext context, string subscriptionId, string? resourceGroupName)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        string prefix;
        if (resourceGroupName is null)
        {
            prefix = ResourceKeys.ResourcesOfSubscription(subscriptionId);
        }
        else
        {
            await data.GetGroupAsync(subscriptionId, resourceGroupName, context.RequestAborted).ConfigureAwait(false);
            prefix = ResourceKeys.ResourcesOfGroup(subscriptionId, resourceGroupName);
        }

        var query = ListQuery.Parse(context.Request, prefix);
        var (items, continueAfter) = await query.ReadPageAsync(data.Store, prefix, null, context.RequestAborted).ConfigureAwait(false);
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
