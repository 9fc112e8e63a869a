using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Resources;
using Holdfast.State;
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
        string? after = null;
        do
        {
            var page = await data.Store.RangeAsync(new RangeRequest(ResourceKeys.SubscriptionsPrefix, 500, after), context.RequestAborted).ConfigureAwait(false);
            foreach (var kv in page.Items)
            {
                var subscription = ResourceDocument.Parse(kv.Value);
                if (string.Equals(subscription["tenantId"]?.GetValue<string>(), caller.TenantId, StringComparison.OrdinalIgnoreCase))
                {
                    items.Add(subscription);
                }
            }

            after = page.ContinueAfter;
        }
        while (after is not null);

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = items }).ConfigureAwait(false);
    }

    private static async Task GetAsync(HttpContext context, string subscriptionId)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, subscription).ConfigureAwait(false);
    }
}
