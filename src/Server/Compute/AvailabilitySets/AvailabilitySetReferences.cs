using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.State;

namespace Holdfast.Server.Compute.AvailabilitySets;

/// <summary>
/// A VM's <c>availabilitySet.id</c>: checked in validation (a set in the VM's own group; never changed afterwards),
/// joined in the VM's create transaction (compare on the set's revision, put the set with the VM in its
/// <c>virtualMachines</c>) and left in the transaction that removes the VM. The set's lower-cased id is the instance's
/// <c>AvailabilitySet</c>, so the placer spreads the set's VMs across fault domains (racks).
/// </summary>
internal static class AvailabilitySetReferences
{
    public const string Type = "Microsoft.Compute/availabilitySets";

    /// <summary>Validates the reference (and that an update keeps it).</summary>
    public static void Validate(ResourceValidationContext context)
    {
        var properties = context.Properties;
        if (properties["availabilitySet"] is { } node)
        {
            var text = (node as JsonObject)?["id"] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
            if (text is null || !ResourceId.TryParse(text, out var id, out _)
                || !string.Equals(id.ResourceType, Type, StringComparison.OrdinalIgnoreCase)
                || !string.Equals(id.SubscriptionId, context.Id.SubscriptionId, StringComparison.OrdinalIgnoreCase))
            {
                context.AddError(ArmErrorCodes.InvalidParameter, "The 'availabilitySet.id' property must be the id of an availability set in this subscription.", "availabilitySet.id");
            }
            else if (!string.Equals(id.ResourceGroupName, context.Id.ResourceGroupName, StringComparison.OrdinalIgnoreCase))
            {
                context.AddError(ArmErrorCodes.InvalidParameter, $"The availability set '{text}' must be in the same resource group as the virtual machine '{context.Id.Name}'.", "availabilitySet.id");
            }
        }

        if (context.ExistingProperties is { } existing && !string.Equals(SetOf(existing), SetOf(properties), StringComparison.OrdinalIgnoreCase))
        {
            context.AddError(ArmErrorCodes.PropertyChangeNotAllowed, "Changing property 'availabilitySet.id' is not allowed.", "availabilitySet.id");
        }
    }

    /// <summary>The referenced set's id (as written), or null.</summary>
    public static string? SetOf(JsonObject properties) =>
        (properties["availabilitySet"] as JsonObject)?["id"] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    /// <summary>The placement key of the VM's set: its id lower-cased, or null.</summary>
    public static string? PlacementKey(JsonObject properties) => SetOf(properties)?.ToLowerInvariant();

    /// <summary>Adds the VM to its set's <c>virtualMachines</c>; 404 <c>NotFound</c> when the set does not exist or is being deleted.</summary>
    public static async ValueTask<Admission> JoinAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        if (context.Kind != AdmissionKind.Create || SetOf(context.Properties) is not { } setId)
        {
            return Admission.None;
        }

        var stored = await context.Store.GetAsync(ResourceKeys.Resource(ResourceId.Parse(setId)), cancellationToken).ConfigureAwait(false);
        var document = stored is null ? null : ResourceDocument.Parse(stored.Value);
        if (stored is null || document is null || string.Equals(ResourceDocument.GetProvisioningState(document), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.NotFound, "NotFound", $"The Availability Set '{setId}' cannot be found.", "availabilitySet.id");
        }

        var vmId = context.Resource["id"]!.GetValue<string>();
        var properties = document["properties"]!.AsObject();
        var members = properties["virtualMachines"] as JsonArray ?? [];
        if (!members.Any(m => string.Equals(m?["id"]?.GetValue<string>(), vmId, StringComparison.OrdinalIgnoreCase)))
        {
            members.Add(new JsonObject { ["id"] = vmId });
        }

        properties["virtualMachines"] = members.DeepClone();
        return new Admission([Compare.ModRevisionIs(stored.Key, stored.ModRevision)], [TxnOp.Put(stored.Key, ResourceDocument.Serialize(document))]);
    }

    /// <summary>Removes the VM from its set's <c>virtualMachines</c> (nothing when the set is gone).</summary>
    public static async ValueTask<Admission> LeaveAsync(ResourceReleaseContext context, CancellationToken cancellationToken)
    {
        if ((context.Resource["properties"] as JsonObject) is not { } vmProperties || SetOf(vmProperties) is not { } setId
            || !ResourceId.TryParse(setId, out var parsed, out _))
        {
            return Admission.None;
        }

        var stored = await context.Store.GetAsync(ResourceKeys.Resource(parsed), cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            return Admission.None;
        }

        var vmId = context.Resource["id"]!.GetValue<string>();
        var document = ResourceDocument.Parse(stored.Value);
        var properties = document["properties"]!.AsObject();
        var members = properties["virtualMachines"] as JsonArray ?? [];
        var kept = new JsonArray([.. members.Where(m => !string.Equals(m?["id"]?.GetValue<string>(), vmId, StringComparison.OrdinalIgnoreCase)).Select(m => m!.DeepClone())]);
        if (kept.Count == members.Count)
        {
            return Admission.None;
        }

        properties["virtualMachines"] = kept;
        return new Admission([Compare.ModRevisionIs(stored.Key, stored.ModRevision)], [TxnOp.Put(stored.Key, ResourceDocument.Serialize(document))]);
    }
}
