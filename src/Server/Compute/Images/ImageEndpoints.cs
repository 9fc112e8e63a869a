using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Resources.Errors;
using Holdfast.Server.Arm;
using Holdfast.Server.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Compute.Images;

/// <summary>
/// The platform image catalog as Azure's VirtualMachineImages API serves it: publishers, offers, skus and versions of
/// <c>artifacttypes/vmimage</c> (JSON arrays, as Azure), and one version's details. Unknown names are 404 <c>NotFound</c>.
/// </summary>
internal static class ImageEndpoints
{
    private const string Location = "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}";
    private const string Offers = Location + "/publishers/{publisher}/artifacttypes/vmimage/offers";
    private const string Action = "Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions/read";

    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: ComputeProvider.ApiVersions);
        routes.MapGet(Location + "/publishers", (HttpContext c, string subscriptionId, string location) =>
            ListAsync(c, subscriptionId, location, "", PlatformImageCatalog.Images.Select(i => i.Publisher))).WithMetadata(metadata);
        routes.MapGet(Offers, (HttpContext c, string subscriptionId, string location, string publisher) =>
            ListAsync(c, subscriptionId, location, $"/Publishers/{publisher}/ArtifactTypes/VMImage/Offers", Matching(publisher).Select(i => i.Offer))).WithMetadata(metadata);
        routes.MapGet(Offers + "/{offer}/skus", (HttpContext c, string subscriptionId, string location, string publisher, string offer) =>
            ListAsync(c, subscriptionId, location, $"/Publishers/{publisher}/ArtifactTypes/VMImage/Offers/{offer}/Skus", Matching(publisher, offer).Select(i => i.Sku))).WithMetadata(metadata);
        routes.MapGet(Offers + "/{offer}/skus/{sku}/versions", (HttpContext c, string subscriptionId, string location, string publisher, string offer, string sku) =>
            ListAsync(c, subscriptionId, location, $"/Publishers/{publisher}/ArtifactTypes/VMImage/Offers/{offer}/Skus/{sku}/Versions", Matching(publisher, offer, sku).SelectMany(i => i.Versions))).WithMetadata(metadata);
        routes.MapGet(Offers + "/{offer}/skus/{sku}/versions/{version}", VersionAsync).WithMetadata(metadata);
    }

    private static IEnumerable<PlatformImage> Matching(string publisher, string? offer = null, string? sku = null) =>
        PlatformImageCatalog.Images.Where(i => string.Equals(i.Publisher, publisher, StringComparison.OrdinalIgnoreCase)
            && (offer is null || string.Equals(i.Offer, offer, StringComparison.OrdinalIgnoreCase))
            && (sku is null || string.Equals(i.Sku, sku, StringComparison.OrdinalIgnoreCase)));

    private static async Task ListAsync(HttpContext context, string subscriptionId, string location, string path, IEnumerable<string> names)
    {
        var (data, subscription) = await AuthorizeAsync(context, subscriptionId, location).ConfigureAwait(false);
        var distinct = names.Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (distinct.Count == 0 && path.Length > 0)
        {
            throw NotFound();
        }

        var value = new JsonArray();
        foreach (var name in distinct)
        {
            value.Add(new JsonObject
            {
                ["location"] = data.Options.Location,
                ["name"] = name,
                ["id"] = $"/Subscriptions/{subscription}/Providers/Microsoft.Compute/Locations/{data.Options.Location}{(path.Length == 0 ? "/Publishers" : path)}/{name}",
            });
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, value).ConfigureAwait(false);
    }

    private static async Task VersionAsync(HttpContext context, string subscriptionId, string location, string publisher, string offer, string sku, string version)
    {
        var (data, subscription) = await AuthorizeAsync(context, subscriptionId, location).ConfigureAwait(false);
        var (image, exact) = PlatformImageCatalog.Resolve(publisher, offer, sku, version) ?? throw NotFound();
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject
        {
            ["properties"] = new JsonObject
            {
                ["hyperVGeneration"] = image.HyperVGeneration,
                ["architecture"] = "x64",
                ["osDiskImage"] = new JsonObject { ["operatingSystem"] = image.OsType, ["sizeInGb"] = image.DiskSizeGB },
                ["dataDiskImages"] = new JsonArray(),
            },
            ["location"] = data.Options.Location,
            ["name"] = exact,
            ["id"] = $"/Subscriptions/{subscription}/Providers/Microsoft.Compute/Locations/{data.Options.Location}/Publishers/{image.Publisher}/ArtifactTypes/VMImage/Offers/{image.Offer}/Skus/{image.Sku}/Versions/{exact}",
        }).ConfigureAwait(false);
    }

    private static ApiException NotFound() =>
        new(HttpStatusCode.NotFound, "NotFound", "Artifact: VMImage was not found.");

    private static async Task<(ArmData Data, string SubscriptionId)> AuthorizeAsync(HttpContext context, string subscriptionId, string location)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, Action, "/subscriptions/" + subscription.SubscriptionId).ConfigureAwait(false);
        if (!data.IsOwnLocation(location))
        {
            throw new ApiException(HttpStatusCode.NotFound, "LocationNotAvailableForResourceType", $"The provided location '{location}' is not available for resource type 'Microsoft.Compute/locations/publishers'. List of available regions for the resource type is '{data.Options.Location}'.");
        }

        return (data, subscription.SubscriptionId);
    }
}
