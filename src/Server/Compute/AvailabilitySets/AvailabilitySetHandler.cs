using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;

namespace Holdfast.Server.Compute.AvailabilitySets;

/// <summary>
/// Microsoft.Compute/availabilitySets: fault and update domain counts (defaults 2 and 5, as Azure), sku
/// <c>Classic</c> or <c>Aligned</c> (default Classic), and the read-only <c>virtualMachines</c> back-references that
/// VMs write in their own transactions (<see cref="AvailabilitySetReferences"/>). A set that still has VMs cannot be
/// deleted (409 <c>OperationNotAllowed</c>).
/// </summary>
internal sealed class AvailabilitySetHandler : ResourceTypeHandler, IResourceAdmission
{
    public const int MaxFaultDomains = 3;
    public const int MaxUpdateDomains = 20;

    public override void Validate(ResourceValidationContext context)
    {
        var properties = context.Properties;
        var existing = context.ExistingProperties;
        CheckCount(context, "platformFaultDomainCount", 2, MaxFaultDomains);
        CheckCount(context, "platformUpdateDomainCount", 5, MaxUpdateDomains);
        if (existing is not null)
        {
            foreach (var name in new[] { "platformFaultDomainCount", "platformUpdateDomainCount" })
            {
                if (existing[name] is JsonValue before && properties[name] is JsonValue after
                    && before.TryGetValue<int>(out var b) && after.TryGetValue<int>(out var a) && a != b)
                {
                    context.AddError(ArmErrorCodes.PropertyChangeNotAllowed, $"Changing property '{name}' is not allowed.", name);
                }
            }
        }

        // Read-only: VMs write their references; a client's value is ignored.
        properties["virtualMachines"] = existing?["virtualMachines"]?.DeepClone() ?? new JsonArray();
        properties.Remove("statuses");
    }

    public ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        if (context.Kind == AdmissionKind.Delete)
        {
            var members = (context.Properties["virtualMachines"] as JsonArray)?.Count ?? 0;
            if (members > 0)
            {
                throw new ApiException(HttpStatusCode.Conflict, "OperationNotAllowed", $"Availability Set '{context.Id.Name}' cannot be deleted. Before deleting an Availability Set please ensure that it does not contain any VM.");
            }

            return ValueTask.FromResult(Admission.None);
        }

        var resource = context.Resource;
        if (resource["sku"] is null)
        {
            resource["sku"] = new JsonObject { ["name"] = context.Previous?["sku"]?["name"]?.DeepClone() ?? "Classic" };
        }

        if (resource["sku"] is not JsonObject sku || sku["name"] is not JsonValue name || !name.TryGetValue<string>(out var skuName)
            || !(string.Equals(skuName, "Classic", StringComparison.OrdinalIgnoreCase) || string.Equals(skuName, "Aligned", StringComparison.OrdinalIgnoreCase)))
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, "The value of parameter 'sku.name' is invalid. Allowed values are 'Classic' and 'Aligned'.", "sku.name");
        }

        sku["name"] = string.Equals(skuName, "Aligned", StringComparison.OrdinalIgnoreCase) ? "Aligned" : "Classic";
        return ValueTask.FromResult(Admission.None);
    }

    public ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken) => ValueTask.FromResult(Admission.None);

    private static void CheckCount(ResourceValidationContext context, string name, int fallback, int max)
    {
        var node = context.Properties[name];
        if (node is null)
        {
            context.Properties[name] = context.ExistingProperties?[name]?.DeepClone() ?? fallback;
            return;
        }

        if (node.GetValueKind() != JsonValueKind.Number || !node.AsValue().TryGetValue<int>(out var value) || value < 1 || value > max)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, $"The specified {(name == "platformFaultDomainCount" ? "fault" : "update")} domain count {node.ToJsonString()} must fall in the range 1 to {max}.", name);
        }
    }
}
