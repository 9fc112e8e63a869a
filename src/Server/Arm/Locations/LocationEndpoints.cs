using System.Text.Json.Nodes;
using Holdfast.Providers.Resources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Arm.Locations;

/// <summary><c>GET /subscriptions/{id}/locations</c>: the one region this control plane serves, in ARM's shape.</summary>
internal static class LocationEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/subscriptions/{subscriptionId}/locations", ListAsync)
            .WithMetadata(new ArmEndpointMetadata(ApiVersions: ResourcesProvider.SubscriptionApiVersions));
    }

    private static async Task ListAsync(HttpContext context, string subscriptionId)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        var id = subscription.SubscriptionId;
        await context.RequestServices.GetRequiredService<Authorization.RequestAuthorizer>().AuthorizeAsync(context, "Microsoft.Resources/subscriptions/locations/read", "/subscriptions/" + id).ConfigureAwait(false);
        var options = data.Options;
        var location = new JsonObject
        {
            ["id"] = $"/subscriptions/{id}/locations/{options.Location}",
            ["subscriptionId"] = id,
            ["name"] = options.Location,
            ["type"] = "Region",
            ["displayName"] = options.LocationDisplayName,
            ["regionalDisplayName"] = options.LocationDisplayName,
            ["metadata"] = new JsonObject
            {
                ["regionType"] = "Physical",
                ["regionCategory"] = "Recommended",
                ["geography"] = "On-premises",
                ["geographyGroup"] = "On-premises",
                ["physicalLocation"] = options.LocationDisplayName,
                ["pairedRegion"] = new JsonArray(),
            },
        };
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = new JsonArray(location) }).ConfigureAwait(false);
    }
}
