using System.Text.Json.Nodes;
using Holdfast.Providers.Resources;
using Holdfast.Server.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Arm.Subscriptions;

/// <summary>
/// <c>GET /subscriptions</c> and <c>GET /subscriptions/{id}</c>: the caller's tenant's subscriptions, as Azure shows
/// them — the list holds only subscriptions where the caller has some role (at, above or below the subscription), and
/// reading one without any is 403 <c>AuthorizationFailed</c> (404 when it does not exist).
/// </summary>
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
        var authorizer = context.RequestServices.GetRequiredService<RequestAuthorizer>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        RequestAuthorizer.RecordSelfService(context, "Microsoft.Resources/subscriptions/read", Holdfast.Identity.Authorization.Scopes.Root);
        var items = new JsonArray();
        foreach (var subscription in await data.ListSubscriptionsAsync(caller, context.RequestAborted).ConfigureAwait(false))
        {
            if (await authorizer.CanSeeSubscriptionAsync(caller, subscription.SubscriptionId, context.RequestAborted).ConfigureAwait(false))
            {
                items.Add(JsonNode.Parse(subscription.Document.Span));
            }
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = items }).ConfigureAwait(false);
    }

    private static async Task GetAsync(HttpContext context, string subscriptionId)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeSubscriptionReadAsync(context, subscription.SubscriptionId).ConfigureAwait(false);
        await ArmResponses.WriteStoredAsync(context, StatusCodes.Status200OK, subscription.Document, etag: null).ConfigureAwait(false);
    }
}
