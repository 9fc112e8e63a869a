using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;

namespace Holdfast.Server.Compute.Images;

/// <summary>
/// Microsoft.Compute/images (minimal): <c>storageProfile.osDisk</c> with <c>osType</c> (Windows/Linux), <c>osState</c>
/// (Generalized/Specialized) and its source, a managed disk (<c>managedDisk.id</c>, which must exist) or a
/// <c>blobUri</c>; <c>hyperVGeneration</c> V1 (default) or V2. VMs reference it with <c>imageReference.id</c>.
/// </summary>
internal sealed class ImageHandler : ResourceTypeHandler, IResourceAdmission
{
    public const string Type = "Microsoft.Compute/images";

    private static readonly string[] OsTypes = ["Windows", "Linux"];
    private static readonly string[] OsStates = ["Generalized", "Specialized"];
    private static readonly string[] Generations = ["V1", "V2"];

    public override void Validate(ResourceValidationContext context)
    {
        var properties = context.Properties;
        const string target = "storageProfile.osDisk";
        if ((properties["storageProfile"] as JsonObject)?["osDisk"] is not JsonObject os)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "Required parameter 'storageProfile.osDisk' is missing (null).", target);
            return;
        }

        Choice(context, os, "osType", OsTypes, null, target);
        Choice(context, os, "osState", OsStates, null, target);
        Choice(context, properties, "hyperVGeneration", Generations, "V1", "");
        var disk = os["managedDisk"]?["id"];
        var blob = os["blobUri"];
        if (disk is null == (blob is null))
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "Exactly one of 'osDisk.managedDisk.id' and 'osDisk.blobUri' is required.", target);
        }
        else if (disk is not null && (disk is not JsonValue d || d.GetValueKind() != JsonValueKind.String || !ResourceId.TryParse(d.GetValue<string>(), out var id, out _)
            || !string.Equals(id.ResourceType, "Microsoft.Compute/disks", StringComparison.OrdinalIgnoreCase)))
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "Parameter 'osDisk.managedDisk.id' must be the id of a managed disk.", target + ".managedDisk.id");
        }
        else if (blob is not null && (blob is not JsonValue b || b.GetValueKind() != JsonValueKind.String || !Uri.TryCreate(b.GetValue<string>(), UriKind.Absolute, out _)))
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "Parameter 'osDisk.blobUri' must be an absolute URI.", target + ".blobUri");
        }

        if (os["diskSizeGB"] is { } size && (size.GetValueKind() != JsonValueKind.Number || !size.AsValue().TryGetValue<int>(out var gb) || gb < 1 || gb > Disks.DiskHandler.MaxSizeGB))
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "Parameter 'osDisk.diskSizeGB' must be a positive integer.", target + ".diskSizeGB");
        }
    }

    public async ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        if (context.Kind == AdmissionKind.Delete)
        {
            return Admission.None;
        }

        var os = context.Properties["storageProfile"]!["osDisk"]!.AsObject();
        if (os["managedDisk"]?["id"] is JsonValue diskId)
        {
            var stored = await context.Store.GetAsync(ResourceKeys.Resource(ResourceId.Parse(diskId.GetValue<string>())), cancellationToken).ConfigureAwait(false)
                ?? throw new ApiException(HttpStatusCode.NotFound, "NotFound", $"The source disk '{diskId.GetValue<string>()}' was not found.", "storageProfile.osDisk.managedDisk.id");
            os["diskSizeGB"] ??= ResourceDocument.Parse(stored.Value)["properties"]?["diskSizeGB"]?.DeepClone();
        }

        return Admission.None;
    }

    public ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken) => ValueTask.FromResult(Admission.None);

    private static void Choice(ResourceValidationContext context, JsonObject node, string name, string[] allowed, string? fallback, string target)
    {
        if (node[name] is null && fallback is not null)
        {
            node[name] = fallback;
        }

        var text = node[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
        var match = allowed.FirstOrDefault(a => string.Equals(a, text, StringComparison.OrdinalIgnoreCase));
        if (match is null)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, $"The value '{text}' of parameter '{name}' is not valid. Allowed values are {string.Join(", ", allowed)}.", target.Length == 0 ? name : $"{target}.{name}");
            return;
        }

        node[name] = match;
    }
}
