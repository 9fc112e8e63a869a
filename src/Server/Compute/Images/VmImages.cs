using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;

namespace Holdfast.Server.Compute.Images;

/// <summary>
/// Resolves a VM's <c>storageProfile.imageReference</c>: publisher/offer/sku/version against
/// <see cref="PlatformImageCatalog"/> (unknown: 404 <c>PlatformImageNotFound</c>, Azure's code), or <c>id</c> of a
/// Microsoft.Compute/images resource that exists (else 404 <c>NotFound</c>). Sets <c>exactVersion</c> and the OS disk's
/// <c>osType</c> (and default size) from the image, as Azure reports them.
/// </summary>
internal static class VmImages
{
    public static async ValueTask ResolveAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        if (context.Kind == AdmissionKind.Delete || (context.Properties["storageProfile"] as JsonObject)?["imageReference"] is not JsonObject reference)
        {
            return;
        }

        var profile = (JsonObject)context.Properties["storageProfile"]!;
        var os = profile["osDisk"] as JsonObject;
        if (Text(reference["id"]) is { } id)
        {
            if (context.Kind != AdmissionKind.Create)
            {
                return;
            }

            if (!ResourceId.TryParse(id, out var imageId, out _)
                || !string.Equals(imageId.ResourceType, ImageHandler.Type, StringComparison.OrdinalIgnoreCase)
                || await context.Store.GetAsync(ResourceKeys.Resource(imageId), cancellationToken).ConfigureAwait(false) is not { } stored)
            {
                throw new ApiException(HttpStatusCode.NotFound, "NotFound", $"The Image '{id}' cannot be found in '{context.Resource["location"]}' region.", "imageReference.id");
            }

            var imageOs = ResourceDocument.Parse(stored.Value)["properties"]?["storageProfile"]?["osDisk"];
            if (os is not null)
            {
                os["osType"] ??= imageOs?["osType"]?.DeepClone();
                os["diskSizeGB"] ??= imageOs?["diskSizeGB"]?.DeepClone();
            }

            return;
        }

        var (publisher, offer, sku, version) = (Text(reference["publisher"]), Text(reference["offer"]), Text(reference["sku"]), Text(reference["version"]));
        var resolved = PlatformImageCatalog.Resolve(publisher, offer, sku, version)
            ?? throw new ApiException(HttpStatusCode.NotFound, "PlatformImageNotFound", $"The platform image '{publisher}:{offer}:{sku}:{version ?? "latest"}' is not available. Verify that all fields in the storage profile are correct. For more details about storage profile information, please refer to https://aka.ms/storageprofile", "imageReference");
        reference["exactVersion"] = resolved.Version;
        if (os is not null)
        {
            os["osType"] ??= resolved.Image.OsType;
            os["diskSizeGB"] ??= resolved.Image.DiskSizeGB;
        }
    }

    private static string? Text(JsonNode? node) => node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
}
