using System.Text.Json.Nodes;
using Holdfast.Providers.Resources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Arm.Subscriptions;

/// <summary><c>GET /subscriptions</c> and <c>GET /subscriptions/{id}</c>: the caller's tenant's subscriptions.</summary>
internal static class SubscriptionEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: ResourcesProvider.SubscriptionApiVersions);
        routes.MapGet("/subscriptions", ListAsync).WithMetadata(metadata);
        routes.MapGet("/subscriptions/{subscriptionId}", GetAsync).WithMetadata(metadata);
    }

    private static async Task ListAsync(HttpContext context)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        var items = new JsonArray();
        foreach (var subscription in await data.ListSubscriptionsAsync(caller, context.RequestAborted).ConfigureAwait(false))
        {
            items.Add(JsonNode.Parse(subscription.Document.Span));
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = items }).ConfigureAwait(false);
    }

    private static async Task GetAsync(HttpContext context, string subscriptionId)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteStoredAsync(context, StatusCodes.Status200OK, subscription.Document, etag: null).ConfigureAwait(false);
    }
}
