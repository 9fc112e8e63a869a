using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;

namespace Holdfast.Server.Compute.Disks;

/// <summary>
/// Microsoft.Compute/disks (managed disks): <c>creationData.createOption</c> Empty (needs <c>diskSizeGB</c>), FromImage
/// or Copy (of another disk), sku Standard_LRS (default), StandardSSD_LRS or Premium_LRS. <c>diskState</c> and the
/// top-level <c>managedBy</c> are written only by VMs attaching or detaching the disk in their own transactions
/// (<see cref="VmDisks"/>); an attached disk cannot be deleted (409 <c>OperationNotAllowed</c>). Disks hold no host
/// capacity.
/// </summary>
internal sealed class DiskHandler : ResourceTypeHandler, IResourceAdmission
{
    public const string Type = "Microsoft.Compute/disks";
    public const int MaxSizeGB = 32767;

    public static readonly string[] Skus = ["Standard_LRS", "StandardSSD_LRS", "Premium_LRS"];

    private static readonly string[] CreateOptions = ["Empty", "FromImage", "Copy"];

    private static readonly string[] ReadOnly = ["diskState", "uniqueId", "timeCreated", "diskSizeBytes"];

    public override void Validate(ResourceValidationContext context)
    {
        var properties = context.Properties;
        var existing = context.ExistingProperties;
        foreach (var name in ReadOnly)
        {
            properties.Remove(name);
            if (existing?[name] is { } kept)
            {
                properties[name] = kept.DeepClone();
            }
        }

        if (existing?["creationData"] is { } storedCreation && properties["creationData"] is null)
        {
            properties["creationData"] = storedCreation.DeepClone();
        }

        if (properties["creationData"] is not JsonObject creation)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "Required parameter 'creationData' is missing (null).", "creationData");
            return;
        }

        var option = creation["createOption"] is JsonValue o && o.GetValueKind() == JsonValueKind.String ? o.GetValue<string>() : null;
        var normalized = CreateOptions.FirstOrDefault(c => string.Equals(c, option, StringComparison.OrdinalIgnoreCase));
        if (normalized is null)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, option is null ? "Required parameter 'creationData.createOption' is missing (null)." : $"The value '{option}' of parameter 'creationData.createOption' is not supported. Supported values are Empty, FromImage and Copy.", "creationData.createOption");
            return;
        }

        creation["createOption"] = normalized;
        if (existing?["creationData"]?["createOption"] is JsonValue before && !string.Equals(before.GetValue<string>(), normalized, StringComparison.OrdinalIgnoreCase))
        {
            context.AddError(ArmErrorCodes.PropertyChangeNotAllowed, "Changing property 'creationData.createOption' is not allowed.", "creationData.createOption");
        }

        var size = properties["diskSizeGB"];
        if (size is not null && (size.GetValueKind() != JsonValueKind.Number || !size.AsValue().TryGetValue<int>(out var gb) || gb < 1 || gb > MaxSizeGB))
        {
            context.AddError(ArmErrorCodes.InvalidParameter, $"The value of parameter 'diskSizeGB' must be an integer from 1 to {MaxSizeGB}.", "diskSizeGB");
            return;
        }

        var hasImage = (creation["imageReference"] as JsonObject)?["id"] is JsonValue;
        switch (normalized)
        {
            case "Empty" when size is null:
                context.AddError(ArmErrorCodes.InvalidParameter, "Required parameter 'diskSizeGB' is missing (null).", "diskSizeGB");
                return;
            case "FromImage" when !hasImage:
                context.AddError(ArmErrorCodes.InvalidParameter, "Required parameter 'creationData.imageReference.id' is missing (null).", "creationData.imageReference.id");
                return;
            case "FromImage":
                properties["diskSizeGB"] ??= 30;
                break;
            case "Copy" when !IsDiskId(creation["sourceResourceId"]):
                context.AddError(ArmErrorCodes.InvalidParameter, "Parameter 'creationData.sourceResourceId' must be the id of a managed disk.", "creationData.sourceResourceId");
                return;
        }

        if (existing?["diskSizeGB"] is JsonValue oldSize && properties["diskSizeGB"] is JsonValue newSize && newSize.GetValue<int>() < oldSize.GetValue<int>())
        {
            context.AddError(ArmErrorCodes.InvalidParameter, $"Disk size reduction is not supported: the disk is {oldSize.GetValue<int>()} GB.", "diskSizeGB");
        }

        properties["diskState"] ??= "Unattached";
        properties["uniqueId"] ??= Guid.NewGuid().ToString();
        properties["encryption"] ??= new JsonObject { ["type"] = "EncryptionAtRestWithPlatformKey" };
        properties["networkAccessPolicy"] ??= "AllowAll";
        properties["publicNetworkAccess"] ??= "Enabled";
    }

    public async ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        if (context.Kind == AdmissionKind.Delete)
        {
            if (context.Resource["managedBy"] is JsonValue vm && vm.GetValueKind() == JsonValueKind.String)
            {
                throw new ApiException(HttpStatusCode.Conflict, "OperationNotAllowed", $"Disk {context.Id.Name} is attached to VM {vm.GetValue<string>()}.");
            }

            return Admission.None;
        }

        var resource = context.Resource;
        resource["sku"] = new JsonObject { ["name"] = NormalizeSku(resource["sku"]?["name"] ?? context.Previous?["sku"]?["name"], "sku.name") };

        // Server-written: only a VM's attach or detach changes it.
        resource.Remove("managedBy");
        if (context.Previous?["managedBy"] is { } managedBy)
        {
            resource["managedBy"] = managedBy.DeepClone();
        }

        var properties = context.Properties;
        if (context.Kind == AdmissionKind.Create && properties["creationData"]?["createOption"]?.GetValue<string>() == "Copy")
        {
            var sourceId = ResourceId.Parse(properties["creationData"]!["sourceResourceId"]!.GetValue<string>());
            var source = await context.Store.GetAsync(ResourceKeys.Resource(sourceId), cancellationToken).ConfigureAwait(false)
                ?? throw new ApiException(HttpStatusCode.NotFound, "NotFound", $"The source disk '{sourceId}' was not found.", "creationData.sourceResourceId");
            var sourceProperties = ResourceDocument.Parse(source.Value)["properties"] as JsonObject;
            properties["diskSizeGB"] ??= sourceProperties?["diskSizeGB"]?.DeepClone() ?? 30;
            if (sourceProperties?["osType"] is { } osType)
            {
                properties["osType"] ??= osType.DeepClone();
            }
        }

        properties["timeCreated"] ??= context.Resource["systemData"]?["createdAt"]?.DeepClone();
        properties["diskSizeBytes"] = (long)properties["diskSizeGB"]!.GetValue<int>() * 1024 * 1024 * 1024;
        return Admission.None;
    }

    public ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken) => ValueTask.FromResult(Admission.None);

    private static bool IsDiskId(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String
        && ResourceId.TryParse(value.GetValue<string>(), out var id, out _) && string.Equals(id.ResourceType, Type, StringComparison.OrdinalIgnoreCase);

    /// <summary>A disk sku name in Azure's spelling; throws 400 <c>InvalidParameter</c> for others. Null means Standard_LRS.</summary>
    public static string NormalizeSku(JsonNode? name, string target)
    {
        if (name is null)
        {
            return "Standard_LRS";
        }

        var text = name is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
        return Skus.FirstOrDefault(s => string.Equals(s, text, StringComparison.OrdinalIgnoreCase))
            ?? throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, $"The value '{text}' of parameter '{target}' is not supported. Supported values are {string.Join(", ", Skus)}.", target);
    }
}
