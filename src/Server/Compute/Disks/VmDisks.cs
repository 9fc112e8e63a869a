using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Server.Compute.Images;
using Holdfast.State;

namespace Holdfast.Server.Compute.Disks;

/// <summary>
/// A VM's managed disks (<c>storageProfile.osDisk</c> and <c>dataDisks[]</c>). Validation names the disks the VM
/// creates (<c>{vm}_OsDisk_1_{guid}</c> from its image, <c>{vm}_disk{lun+1}_{guid}</c> for an Empty data disk) and
/// defaults <c>deleteOption</c> to Detach, as Azure. Admission, in the VM's own transaction, creates those disks and
/// attaches existing ones (<c>Attach</c>: compare on the disk's revision, put it with <c>managedBy</c> = the VM and
/// <c>diskState</c> Attached; one attached elsewhere is 409 <c>OperationNotAllowed</c>, a missing one 404
/// <c>NotFound</c>), and detaches disks an update dropped. The VM's removal transaction deletes or detaches each disk per
/// its <c>deleteOption</c>.
/// </summary>
internal static class VmDisks
{
    public const int MaxLun = 63;

    private static readonly string[] DataCreateOptions = ["Attach", "Empty"];
    private static readonly string[] OsCreateOptions = ["FromImage", "Attach"];
    private static readonly string[] DeleteOptions = ["Delete", "Detach"];

    public static void Validate(ResourceValidationContext context)
    {
        var properties = context.Properties;
        var existing = context.ExistingProperties?["storageProfile"] as JsonObject;
        if (properties["storageProfile"] is null)
        {
            if (existing is not null)
            {
                properties["storageProfile"] = existing.DeepClone();
            }

            return;
        }

        if (properties["storageProfile"] is not JsonObject profile)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "The 'storageProfile' property must be an object.", "storageProfile");
            return;
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        ValidateOsDisk(context, profile, existing, seen);
        if (profile["dataDisks"] is null)
        {
            return;
        }

        if (profile["dataDisks"] is not JsonArray dataDisks)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "The 'storageProfile.dataDisks' property must be an array.", "storageProfile.dataDisks");
            return;
        }

        var luns = new HashSet<int>();
        for (var i = 0; i < dataDisks.Count; i++)
        {
            var target = $"storageProfile.dataDisks[{i}]";
            if (dataDisks[i] is not JsonObject disk)
            {
                context.AddError(ArmErrorCodes.InvalidParameter, "Each data disk must be an object.", target);
                continue;
            }

            if (disk["lun"] is not JsonValue lunValue || lunValue.GetValueKind() != JsonValueKind.Number || !lunValue.TryGetValue<int>(out var lun) || lun < 0 || lun > MaxLun)
            {
                context.AddError(ArmErrorCodes.InvalidParameter, $"Required parameter 'dataDisk.lun' must be an integer from 0 to {MaxLun}.", target + ".lun");
                continue;
            }

            if (!luns.Add(lun))
            {
                context.AddError(ArmErrorCodes.InvalidParameter, $"A disk at LUN {lun} already exists.", target + ".lun");
                continue;
            }

            var option = Option(context, disk, "createOption", DataCreateOptions, null, target);
            Option(context, disk, "deleteOption", DeleteOptions, "Detach", target);
            if (option == "Attach")
            {
                RequireDiskId(context, disk, target, seen);
            }
            else if (option == "Empty")
            {
                if (disk["diskSizeGB"] is not JsonValue size || size.GetValueKind() != JsonValueKind.Number || !size.TryGetValue<int>(out var gb) || gb < 1 || gb > DiskHandler.MaxSizeGB)
                {
                    context.AddError(ArmErrorCodes.InvalidParameter, $"Required parameter 'dataDisk.diskSizeGB' must be an integer from 1 to {DiskHandler.MaxSizeGB} for an empty disk.", target + ".diskSizeGB");
                    continue;
                }

                // An empty disk created by an earlier write of this VM keeps its id.
                var earlier = (existing?["dataDisks"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(d => d["lun"]?.GetValue<int>() == lun);
                var managed = disk["managedDisk"] as JsonObject ?? [];
                disk["managedDisk"] = managed;
                if (earlier?["managedDisk"]?["id"] is JsonValue kept)
                {
                    managed["id"] = kept.DeepClone();
                    disk["name"] = earlier["name"]?.DeepClone();
                }
                else
                {
                    var name = disk["name"] is JsonValue n && n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : $"{context.Id.Name}_disk{lun + 1}_{Guid.NewGuid():N}";
                    disk["name"] = name;
                    managed["id"] = DiskId(context.Id, name);
                }

                managed["storageAccountType"] = TrySku(context, managed["storageAccountType"], target + ".managedDisk.storageAccountType");
                seen.Add(managed["id"]!.GetValue<string>());
            }
        }
    }

    /// <summary>Creates, attaches and detaches the VM's disks in its own transaction.</summary>
    public static async ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        if (context.Kind == AdmissionKind.Delete)
        {
            return Admission.None;
        }

        await VmImages.ResolveAsync(context, cancellationToken).ConfigureAwait(false);
        var vmId = context.Resource["id"]!.GetValue<string>();
        var location = context.Resource["location"]?.GetValue<string>();
        var compares = new List<Compare>();
        var ops = new List<TxnOp>();
        var wanted = DisksOf(context.Properties);
        foreach (var (disk, isOs) in wanted)
        {
            var id = ResourceId.Parse(disk["managedDisk"]!["id"]!.GetValue<string>());
            var key = ResourceKeys.Resource(id);
            var stored = await context.Store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            var option = disk["createOption"]?.GetValue<string>();
            if (stored is null)
            {
                if (option == "Attach")
                {
                    throw new ApiException(HttpStatusCode.NotFound, "NotFound", $"Disk {id} referenced by virtual machine {vmId} was not found.", isOs ? "storageProfile.osDisk.managedDisk.id" : "storageProfile.dataDisks.managedDisk.id");
                }

                compares.Add(Compare.Absent(key));
                ops.Add(TxnOp.Put(key, ResourceDocument.Serialize(NewDisk(id, location, disk, isOs, vmId, context.Properties))));
                continue;
            }

            var document = ResourceDocument.Parse(stored.Value);
            var owner = document["managedBy"] is JsonValue m && m.GetValueKind() == JsonValueKind.String ? m.GetValue<string>() : null;
            if (string.Equals(owner, vmId, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (string.Equals(ResourceDocument.GetProvisioningState(document), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
            {
                throw new ApiException(HttpStatusCode.NotFound, "NotFound", $"Disk {id} referenced by virtual machine {vmId} was not found.");
            }

            if (owner is not null)
            {
                throw new ApiException(HttpStatusCode.Conflict, "OperationNotAllowed", $"Disk {id.Name} cannot be attached to VM {vmId}: it is already attached to VM {owner}.");
            }

            document["managedBy"] = vmId;
            document["properties"]!["diskState"] = "Attached";
            disk["name"] ??= id.Name;
            compares.Add(Compare.ModRevisionIs(key, stored.ModRevision));
            ops.Add(TxnOp.Put(key, ResourceDocument.Serialize(document)));
        }

        var previous = context.Previous?["properties"] as JsonObject;
        var keep = wanted.Select(w => w.Disk["managedDisk"]!["id"]!.GetValue<string>()).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var (dropped, _) in previous is null ? [] : DisksOf(previous))
        {
            var id = dropped["managedDisk"]!["id"]!.GetValue<string>();
            if (!keep.Contains(id) && await DetachAsync(context.Store, id, vmId, cancellationToken).ConfigureAwait(false) is { } change)
            {
                compares.Add(change.Compare);
                ops.Add(change.Op);
            }
        }

        return new Admission(compares, ops);
    }

    /// <summary>Deletes or detaches each of the VM's disks per its <c>deleteOption</c>, in the VM's removal transaction.</summary>
    public static async ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken)
    {
        if (context.Resource["properties"] is not JsonObject properties)
        {
            return Admission.None;
        }

        var vmId = context.Resource["id"]!.GetValue<string>();
        var compares = new List<Compare>();
        var ops = new List<TxnOp>();
        foreach (var (disk, _) in DisksOf(properties))
        {
            var id = disk["managedDisk"]!["id"]!.GetValue<string>();
            if (string.Equals(disk["deleteOption"]?.GetValue<string>(), "Delete", StringComparison.OrdinalIgnoreCase))
            {
                var key = ResourceKeys.Resource(ResourceId.Parse(id));
                if (await context.Store.GetAsync(key, cancellationToken).ConfigureAwait(false) is { } stored
                    && string.Equals(ResourceDocument.Parse(stored.Value)["managedBy"]?.GetValue<string>(), vmId, StringComparison.OrdinalIgnoreCase))
                {
                    compares.Add(Compare.ModRevisionIs(key, stored.ModRevision));
                    ops.Add(TxnOp.Delete(key));
                }
            }
            else if (await DetachAsync(context.Store, id, vmId, cancellationToken).ConfigureAwait(false) is { } change)
            {
                compares.Add(change.Compare);
                ops.Add(change.Op);
            }
        }

        return new Admission(compares, ops);
    }

    /// <summary>The validated VM's managed disk references (those with <c>managedDisk.id</c>), OS disk first.</summary>
    public static List<(JsonObject Disk, bool IsOs)> DisksOf(JsonObject properties)
    {
        var list = new List<(JsonObject, bool)>();
        var profile = properties["storageProfile"] as JsonObject;
        if (profile?["osDisk"] is JsonObject os && os["managedDisk"]?["id"] is JsonValue)
        {
            list.Add((os, true));
        }

        foreach (var disk in (profile?["dataDisks"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            if (disk["managedDisk"]?["id"] is JsonValue)
            {
                list.Add((disk, false));
            }
        }

        return list;
    }

    private static async Task<(Compare Compare, TxnOp Op)?> DetachAsync(IStateStore store, string diskId, string vmId, CancellationToken cancellationToken)
    {
        var key = ResourceKeys.Resource(ResourceId.Parse(diskId));
        var stored = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            return null;
        }

        var document = ResourceDocument.Parse(stored.Value);
        if (!string.Equals(document["managedBy"]?.GetValue<string>(), vmId, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        document.Remove("managedBy");
        document["properties"]!["diskState"] = "Unattached";
        return (Compare.ModRevisionIs(key, stored.ModRevision), TxnOp.Put(key, ResourceDocument.Serialize(document)));
    }

    private static void ValidateOsDisk(ResourceValidationContext context, JsonObject profile, JsonObject? existing, HashSet<string> seen)
    {
        if (profile["osDisk"] is null && profile["imageReference"] is null)
        {
            return;
        }

        profile["osDisk"] ??= new JsonObject();
        if (profile["osDisk"] is not JsonObject os)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "The 'storageProfile.osDisk' property must be an object.", "storageProfile.osDisk");
            return;
        }

        const string target = "storageProfile.osDisk";
        os["createOption"] ??= "FromImage";
        var option = Option(context, os, "createOption", OsCreateOptions, null, target);
        Option(context, os, "deleteOption", DeleteOptions, "Detach", target);
        var managed = os["managedDisk"] as JsonObject ?? [];
        os["managedDisk"] = managed;
        if (existing?["osDisk"] is JsonObject before && before["managedDisk"]?["id"] is JsonValue keptId)
        {
            // The OS disk never changes after create.
            if (managed["id"] is JsonValue given && !string.Equals(given.GetValue<string>(), keptId.GetValue<string>(), StringComparison.OrdinalIgnoreCase))
            {
                context.AddError(ArmErrorCodes.PropertyChangeNotAllowed, "Changing property 'osDisk.managedDisk.id' is not allowed.", target + ".managedDisk.id");
            }

            managed["id"] = keptId.DeepClone();
            os["name"] = before["name"]?.DeepClone();
            os["createOption"] = before["createOption"]?.DeepClone();
        }
        else if (option == "Attach")
        {
            RequireDiskId(context, os, target, seen);
            return;
        }
        else if (option == "FromImage")
        {
            if (profile["imageReference"] is null)
            {
                context.AddError(ArmErrorCodes.InvalidParameter, "Required parameter 'storageProfile.imageReference' is missing (null).", "storageProfile.imageReference");
                return;
            }

            var name = os["name"] is JsonValue n && n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : $"{context.Id.Name}_OsDisk_1_{Guid.NewGuid():N}";
            os["name"] = name;
            managed["id"] = DiskId(context.Id, name);
        }

        if (os["diskSizeGB"] is { } size && (size.GetValueKind() != JsonValueKind.Number || !size.AsValue().TryGetValue<int>(out var gb) || gb < 1 || gb > DiskHandler.MaxSizeGB))
        {
            context.AddError(ArmErrorCodes.InvalidParameter, $"The value of parameter 'osDisk.diskSizeGB' must be an integer from 1 to {DiskHandler.MaxSizeGB}.", target + ".diskSizeGB");
        }

        managed["storageAccountType"] = TrySku(context, managed["storageAccountType"], target + ".managedDisk.storageAccountType");
        if (managed["id"] is JsonValue id)
        {
            seen.Add(id.GetValue<string>());
        }
    }

    private static void RequireDiskId(ResourceValidationContext context, JsonObject disk, string target, HashSet<string> seen)
    {
        var text = disk["managedDisk"]?["id"] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
        if (text is null || !ResourceId.TryParse(text, out var id, out _)
            || !string.Equals(id.ResourceType, DiskHandler.Type, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(id.SubscriptionId, context.Id.SubscriptionId, StringComparison.OrdinalIgnoreCase))
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "A disk with createOption 'Attach' needs 'managedDisk.id': the id of a managed disk in this subscription.", target + ".managedDisk.id");
            return;
        }

        if (!seen.Add(id.ToString()))
        {
            context.AddError(ArmErrorCodes.InvalidParameter, $"Disk {text} is referenced more than once.", target + ".managedDisk.id");
        }

        disk["name"] ??= id.Name;
    }

    private static string? Option(ResourceValidationContext context, JsonObject disk, string name, string[] allowed, string? fallback, string target)
    {
        if (disk[name] is null && fallback is not null)
        {
            disk[name] = fallback;
        }

        var text = disk[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
        var match = allowed.FirstOrDefault(a => string.Equals(a, text, StringComparison.OrdinalIgnoreCase));
        if (match is null)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, $"The value '{text}' of parameter '{name}' is not supported here. Supported values are {string.Join(", ", allowed)}.", $"{target}.{name}");
            return null;
        }

        disk[name] = match;
        return match;
    }

    private static string? TrySku(ResourceValidationContext context, JsonNode? node, string target)
    {
        try
        {
            return DiskHandler.NormalizeSku(node, target);
        }
        catch (ApiException ex)
        {
            context.AddError(ex.Code, ex.Message, target);
            return null;
        }
    }

    private static string DiskId(ResourceId vm, string name) =>
        $"/subscriptions/{vm.SubscriptionId}/resourceGroups/{vm.ResourceGroupName}/providers/{DiskHandler.Type}/{name}";

    /// <summary>A disk the VM creates (its OS disk from the image, or an Empty data disk), already attached to it.</summary>
    private static JsonObject NewDisk(ResourceId id, string? location, JsonObject disk, bool isOs, string vmId, JsonObject vmProperties)
    {
        var image = (vmProperties["storageProfile"] as JsonObject)?["imageReference"];
        var size = disk["diskSizeGB"] is JsonValue s && s.TryGetValue<int>(out var gb) ? gb : 30;
        var properties = new JsonObject
        {
            ["creationData"] = isOs && image is not null
                ? new JsonObject { ["createOption"] = "FromImage", ["imageReference"] = image.DeepClone() }
                : new JsonObject { ["createOption"] = "Empty" },
            ["diskSizeGB"] = size,
            ["diskSizeBytes"] = (long)size * 1024 * 1024 * 1024,
            ["uniqueId"] = Guid.NewGuid().ToString(),
            ["diskState"] = "Attached",
            ["timeCreated"] = vmProperties.Parent?["systemData"]?["lastModifiedAt"]?.DeepClone(),
            ["encryption"] = new JsonObject { ["type"] = "EncryptionAtRestWithPlatformKey" },
            ["networkAccessPolicy"] = "AllowAll",
            ["publicNetworkAccess"] = "Enabled",
            ["provisioningState"] = ProvisioningStates.Succeeded,
        };
        if (isOs && disk["osType"] is { } osType)
        {
            properties["osType"] = osType.DeepClone();
        }

        var document = new JsonObject
        {
            ["id"] = id.ToString(),
            ["name"] = id.Name,
            ["type"] = DiskHandler.Type,
        };
        if (location is not null)
        {
            document["location"] = location;
        }

        document["tags"] = new JsonObject();
        document["managedBy"] = vmId;
        document["sku"] = new JsonObject { ["name"] = disk["managedDisk"]?["storageAccountType"]?.DeepClone() ?? "Standard_LRS" };
        document["properties"] = properties;
        return document;
    }
}
