using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Catalog;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Server.Compute.Quotas;
using Holdfast.Server.Fabric;
using Holdfast.State;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Compute.VirtualMachines;

/// <summary>
/// Microsoft.Compute/virtualMachines (docs/designs/0005-compute.md). The request validates the body against the size
/// catalog and admits the VM: the size must be one some in-service host could hold (else <c>SkuNotAvailable</c>) and
/// the subscription's quota is charged in the write's own transaction (else Azure's quota refusal). The reconcile loop
/// then places the VM's instance with the capacity service (guarded by the resource's revision, so a VM deleted or
/// rewritten meanwhile is never placed) and waits until the agent side reports it running at the current epoch.
/// Deleting frees the instance; the transaction that removes the resource credits the quota back. Secrets in
/// <c>osProfile</c> are never stored, so never echoed.
/// </summary>
internal sealed partial class VirtualMachineHandler(CapacityService capacity, QuotaLedger quotas, IStateStore store, string location, ILogger<VirtualMachineHandler> logger)
    : ResourceTypeHandler, IResourceAdmission, IResourceExpansion
{
    /// <summary>How often provisioning looks at the instance while waiting for the agent's report.</summary>
    public static readonly TimeSpan RunningPoll = TimeSpan.FromMilliseconds(200);

    public override void Validate(ResourceValidationContext context)
    {
        var properties = context.Properties;
        var existing = context.ExistingProperties;
        var hardware = properties["hardwareProfile"];
        string? sizeName = null;
        if (hardware is not JsonObject hardwareProfile)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "Required parameter 'hardwareProfile' is missing (null).", "hardwareProfile");
        }
        else if (hardwareProfile["vmSize"] is not JsonValue vmSize || vmSize.GetValueKind() != JsonValueKind.String)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "Required parameter 'hardwareProfile.vmSize' is missing (null).", "vmSize");
        }
        else
        {
            sizeName = vmSize.GetValue<string>();
            if (VmSizeCatalog.Find(sizeName) is null)
            {
                context.AddError(ArmErrorCodes.InvalidParameter, $"The requested VM size {sizeName} is not available in the current region. The sizes available in the current region are: {string.Join(", ", VmSizeCatalog.Sizes.Select(s => s.Name))}.", "vmSize");
            }
        }

        if (existing is not null)
        {
            var before = SizeOf(existing);
            if (sizeName is not null && before is not null && !string.Equals(before, sizeName, StringComparison.OrdinalIgnoreCase))
            {
                context.AddError(ArmErrorCodes.PropertyChangeNotAllowed, "Changing property 'hardwareProfile.vmSize' is not allowed: resizing is not supported yet. Delete and re-create the VM with the new size.", "vmSize");
            }

            if (!string.Equals(ReservationGroupOf(existing), ReservationGroupOf(properties), StringComparison.OrdinalIgnoreCase))
            {
                context.AddError(ArmErrorCodes.PropertyChangeNotAllowed, "Changing property 'capacityReservation.capacityReservationGroup.id' is not allowed.", "capacityReservation");
            }
        }

        ValidateOsProfile(context, properties);
        ValidateReservationReference(context, properties);

        // Read-only, server-set.
        properties.Remove("instanceView");
        properties["vmId"] = existing?["vmId"]?.DeepClone() ?? Guid.NewGuid().ToString();
    }

    public async ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        if (context.Kind != AdmissionKind.Create)
        {
            return Admission.None;
        }

        var size = VmSizeCatalog.Find(SizeOf(context.Properties))!;
        if (!FleetCanHost(size))
        {
            throw new ApiException(HttpStatusCode.Conflict, "SkuNotAvailable", $"The requested size for resource '{context.Id}' is currently not available in location '{location}'. Please try another size or deploy to a different location. Sizes offered here are listed by GET /subscriptions/{context.Id.SubscriptionId}/providers/Microsoft.Compute/locations/{location}/vmSizes.");
        }

        if (ReservationGroupOf(context.Properties) is { } group)
        {
            await FindReservationAsync(context.Id.SubscriptionId!, group, size, cancellationToken).ConfigureAwait(false);
        }

        return await quotas.ChargeAsync(context.Id.SubscriptionId!, size, location, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken)
    {
        var properties = context.Resource["properties"] as JsonObject;
        return VmSizeCatalog.Find(properties is null ? null : SizeOf(properties)) is { } size
            ? await quotas.CreditAsync(context.Id.SubscriptionId!, size, cancellationToken).ConfigureAwait(false)
            : Admission.None;
    }

    public override async ValueTask<ProvisionOutcome> ProvisionAsync(ResourceReconcileContext context, CancellationToken cancellationToken)
    {
        var instanceId = InstanceIdOf(context.Properties);
        var stored = await store.GetAsync(FabricKeys.Instance(instanceId), cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            return await PlaceAsync(context, instanceId, cancellationToken).ConfigureAwait(false);
        }

        var instance = FabricJson.Deserialize<InstanceDocument>(stored.Value.Span);
        if (instance.Observed is { } observed && observed.Epoch == instance.Epoch && instance.Host is not null)
        {
            if (observed.Error is not null)
            {
                return ProvisionOutcome.Failed("VMProvisioningFailed", $"The host reported an error creating the VM: {observed.Error}");
            }

            if (observed.PowerState == instance.DesiredPowerState)
            {
                return ProvisionOutcome.Succeeded;
            }
        }

        return ProvisionOutcome.NotYet(RunningPoll);
    }

    public override async ValueTask<ProvisionOutcome> DeprovisionAsync(ResourceReconcileContext context, CancellationToken cancellationToken)
    {
        if (context.Properties["vmId"] is not null)
        {
            await capacity.FreeAsync(InstanceIdOf(context.Properties), [], [], r => store.TxnAsync(r, cancellationToken), cancellationToken).ConfigureAwait(false);
        }

        return ProvisionOutcome.Succeeded;
    }

    public async ValueTask ExpandAsync(ResourceId id, JsonObject resource, string expand, CancellationToken cancellationToken)
    {
        if (string.Equals(expand, "userData", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        if (!string.Equals(expand, "instanceView", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, $"The value '{expand}' of parameter '$expand' is not valid. The allowed values are 'instanceView' and 'userData'.", "$expand");
        }

        if (resource["properties"] is JsonObject properties)
        {
            properties["instanceView"] = await InstanceViewAsync(resource, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The VM's instance view as Azure writes it: <c>ProvisioningState/{state}</c> from the resource and
    /// <c>PowerState/{state}</c> from what the host last reported at the instance's current epoch (<c>starting</c>
    /// before the first report, <c>deallocated</c> while the VM holds no capacity).
    /// </summary>
    public async Task<JsonObject> InstanceViewAsync(JsonObject resource, CancellationToken cancellationToken)
    {
        var properties = resource["properties"] as JsonObject ?? [];
        var state = ResourceDocument.GetProvisioningState(resource) ?? ProvisioningStates.Succeeded;
        var failed = string.Equals(state, ProvisioningStates.Failed, StringComparison.OrdinalIgnoreCase);
        var statuses = new JsonArray
        {
            new JsonObject
            {
                ["code"] = "ProvisioningState/" + state.ToLowerInvariant(),
                ["level"] = failed ? "Error" : "Info",
                ["displayStatus"] = state switch
                {
                    ProvisioningStates.Succeeded => "Provisioning succeeded",
                    ProvisioningStates.Failed => "Provisioning failed",
                    _ => state,
                },
            },
        };

        var power = PowerState.Deallocated;
        if (properties["vmId"] is not null
            && await store.GetAsync(FabricKeys.Instance(InstanceIdOf(properties)), cancellationToken).ConfigureAwait(false) is { } stored)
        {
            var instance = FabricJson.Deserialize<InstanceDocument>(stored.Value.Span);
            power = instance.Host is null ? PowerState.Deallocated
                : instance.Observed is { } observed && observed.Epoch == instance.Epoch ? observed.PowerState
                : PowerState.Starting;
        }

        statuses.Add(new JsonObject
        {
            ["code"] = "PowerState/" + power.ToString().ToLowerInvariant(),
            ["level"] = "Info",
            ["displayStatus"] = power == PowerState.Unknown ? "VM status unknown" : "VM " + power.ToString().ToLowerInvariant(),
        });

        var view = new JsonObject();
        if ((properties["osProfile"] as JsonObject)?["computerName"] is { } computerName)
        {
            view["computerName"] = computerName.DeepClone();
        }

        view["statuses"] = statuses;
        return view;
    }

    /// <summary>The fabric instance id of a VM: its <c>vmId</c>, lower-cased.</summary>
    public static string InstanceIdOf(JsonObject properties) => properties["vmId"]!.GetValue<string>().ToLowerInvariant();

    /// <summary>True when some in-service host's whole capacity could hold <paramref name="size"/> (what <c>vmSizes</c> offers).</summary>
    public bool FleetCanHost(VmSize size) =>
        capacity.Hosts().Any(h => h.Description.State == HostState.InService && h.Description.Capacity.Fits(size.Demand));

    private async Task<ProvisionOutcome> PlaceAsync(ResourceReconcileContext context, string instanceId, CancellationToken cancellationToken)
    {
        var size = VmSizeCatalog.Find(SizeOf(context.Properties))!;
        var key = ResourceKeys.Resource(context.Id);
        var current = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        if (current is null)
        {
            return ProvisionOutcome.NotYet(TimeSpan.Zero);
        }

        string? reservationId = null;
        if (ReservationGroupOf(context.Properties) is { } group)
        {
            try
            {
                reservationId = await FindReservationAsync(context.Id.SubscriptionId!, group, size, cancellationToken).ConfigureAwait(false);
            }
            catch (ApiException ex)
            {
                return ProvisionOutcome.Failed(ex.Code, ex.Message);
            }
        }

        var instance = new InstanceDocument
        {
            Id = instanceId,
            ResourceId = context.Id.ToString(),
            SubscriptionId = context.Id.SubscriptionId,
            Demand = size.Demand,
            Size = size.Name,
            ReservationId = reservationId,
            DesiredPowerState = PowerState.Running,
        };

        // Guarded by the resource's revision: a VM deleted or rewritten since this pass read it is not placed.
        var result = await capacity.PlaceAsync(instance, [Compare.ModRevisionIs(key, current.ModRevision)], [], r => store.TxnAsync(r, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (result.CallerCompareFailed)
        {
            return ProvisionOutcome.NotYet(TimeSpan.Zero);
        }

        if (!result.Placed)
        {
            var why = result.Explanation?.Summary ?? "no host fits";
            LogAllocationFailed(logger, context.Id, size.Name, why);
            return ProvisionOutcome.Failed("AllocationFailed", $"Allocation failed. We do not have sufficient capacity for the requested VM size {size.Name} in this region ({why}). Please try another size or retry later.");
        }

        LogPlaced(logger, context.Id, result.Host!);
        return ProvisionOutcome.NotYet(RunningPoll);
    }

    /// <summary>
    /// The capacity reservation of <paramref name="size"/> in the referenced group, as its reservation id; throws
    /// <c>InvalidParameter</c> when the group does not exist or holds no reservation of that size.
    /// </summary>
    private async Task<string> FindReservationAsync(string subscriptionId, string groupId, VmSize size, CancellationToken cancellationToken)
    {
        var id = ResourceId.Parse(groupId);
        var groupKey = ResourceKeys.Resource(id);
        if (await store.GetAsync(groupKey, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, $"The capacity reservation group '{groupId}' was not found in subscription '{subscriptionId}'.", "capacityReservation.capacityReservationGroup.id");
        }

        var children = await store.RangeAsync(new RangeRequest(groupKey + "/capacityreservations/"), cancellationToken).ConfigureAwait(false);
        foreach (var child in children.Items)
        {
            var reservation = ResourceDocument.Parse(child.Value);
            if (string.Equals(reservation["sku"]?["name"]?.GetValue<string>(), size.Name, StringComparison.OrdinalIgnoreCase)
                && string.Equals(ResourceDocument.GetProvisioningState(reservation), ProvisioningStates.Succeeded, StringComparison.OrdinalIgnoreCase)
                && reservation["properties"]?["reservationId"]?.GetValue<string>() is { } reservationId)
            {
                return reservationId.ToLowerInvariant();
            }
        }

        throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, $"The capacity reservation group '{groupId}' has no provisioned capacity reservation of size {size.Name}.", "capacityReservation.capacityReservationGroup.id");
    }

    private static void ValidateOsProfile(ResourceValidationContext context, JsonObject properties)
    {
        if (properties["osProfile"] is null)
        {
            return;
        }

        if (properties["osProfile"] is not JsonObject osProfile)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "The 'osProfile' property must be an object.", "osProfile");
            return;
        }

        if (osProfile["adminPassword"] is { } password && password.GetValueKind() != JsonValueKind.String)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "The 'osProfile.adminPassword' property must be a string.", "adminPassword");
        }

        // Secrets are never stored, so GET never returns them (as Azure leaves them out).
        osProfile.Remove("adminPassword");
        osProfile.Remove("customData");
    }

    private static void ValidateReservationReference(ResourceValidationContext context, JsonObject properties)
    {
        if (properties["capacityReservation"] is null)
        {
            return;
        }

        var id = (properties["capacityReservation"] as JsonObject)?["capacityReservationGroup"]?["id"];
        if (id is null || id.GetValueKind() != JsonValueKind.String
            || !ResourceId.TryParse(id.GetValue<string>(), out var parsed, out _)
            || !string.Equals(parsed.ResourceType, "Microsoft.Compute/capacityReservationGroups", StringComparison.OrdinalIgnoreCase)
            || !string.Equals(parsed.SubscriptionId, context.Id.SubscriptionId, StringComparison.OrdinalIgnoreCase))
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "The 'capacityReservation.capacityReservationGroup.id' property must be the id of a capacity reservation group in this subscription.", "capacityReservation.capacityReservationGroup.id");
        }
    }

    private static string? SizeOf(JsonObject properties) =>
        (properties["hardwareProfile"] as JsonObject)?["vmSize"] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    private static string? ReservationGroupOf(JsonObject properties) =>
        (properties["capacityReservation"] as JsonObject)?["capacityReservationGroup"]?["id"] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    [LoggerMessage(Level = LogLevel.Information, Message = "Placed {ResourceId} on {Host}")]
    private static partial void LogPlaced(ILogger logger, ResourceId resourceId, string host);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Allocation of {ResourceId} ({Size}) failed: {Reason}")]
    private static partial void LogAllocationFailed(ILogger logger, ResourceId resourceId, string size, string reason);
}
