using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Catalog;
using Holdfast.Capacity.Inventory;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Server.Fabric;
using Holdfast.State;

namespace Holdfast.Server.Compute.Reservations;

/// <summary>
/// Microsoft.Compute/capacityReservationGroups: a named container of capacity reservations that VMs reference. A group
/// that still holds reservations cannot be deleted (as Azure).
/// </summary>
internal sealed class CapacityReservationGroupHandler(IStateStore store) : ResourceTypeHandler, IResourceAdmission
{
    public async ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        if (context.Kind == AdmissionKind.Delete)
        {
            var children = await store.RangeAsync(new RangeRequest(ResourceKeys.Resource(context.Id) + "/capacityreservations/", Limit: 1), cancellationToken).ConfigureAwait(false);
            if (children.Items.Count > 0)
            {
                throw new ApiException(HttpStatusCode.Conflict, "OperationNotAllowed", $"The capacity reservation group '{context.Id.Name}' cannot be deleted because it still contains capacity reservations. Delete them first.");
            }
        }

        return Admission.None;
    }

    public ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken) => ValueTask.FromResult(Admission.None);
}

/// <summary>
/// Microsoft.Compute/capacityReservationGroups/capacityReservations: <c>sku.capacity</c> VMs of size <c>sku.name</c>
/// held for the subscription with <see cref="CapacityService.HoldAsync"/>, all or nothing (a shortfall releases what
/// was held and fails with <c>AllocationFailed</c>). The hold is keyed by <c>properties.reservationId</c>; only VMs
/// that reference the group (and so carry that id on their instance) may draw on it. Deleting releases the holds.
/// </summary>
internal sealed class CapacityReservationHandler(CapacityService capacity, IStateStore store, string location) : ResourceTypeHandler, IResourceAdmission
{
    /// <summary>The most instances one reservation may hold (Azure's per-reservation limit is in this range).</summary>
    public const int MaxCapacity = 1000;

    public override void Validate(ResourceValidationContext context)
    {
        context.Properties["reservationId"] = context.ExistingProperties?["reservationId"]?.DeepClone() ?? Guid.NewGuid().ToString();
        context.Properties["platformFaultDomainCount"] ??= 1;
        context.Properties.Remove("instanceView");
        context.Properties.Remove("virtualMachinesAssociated");
    }

    public ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        if (context.Kind == AdmissionKind.Delete)
        {
            return ValueTask.FromResult(Admission.None);
        }

        var (size, _) = ReadSku(context.Resource);
        if (context.Previous is not null && ReadSku(context.Previous).Size is { } before && !string.Equals(before.Name, size.Name, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.PropertyChangeNotAllowed, "Changing property 'sku.name' is not allowed.", "sku.name");
        }

        if (!capacity.Hosts().Any(h => h.Description.State == HostState.InService && h.Description.Capacity.Fits(size.Demand)))
        {
            throw new ApiException(HttpStatusCode.Conflict, "SkuNotAvailable", $"The requested size {size.Name} for resource '{context.Id}' is currently not available in location '{location}'.");
        }

        return ValueTask.FromResult(Admission.None);
    }

    public ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken) => ValueTask.FromResult(Admission.None);

    public override async ValueTask<ProvisionOutcome> ProvisionAsync(ResourceReconcileContext context, CancellationToken cancellationToken)
    {
        var (size, count) = ReadSku(context.Resource);
        var reservationId = ReservationIdOf(context.Properties);
        if (HeldUnits(reservationId, size) == count)
        {
            return ProvisionOutcome.Succeeded;
        }

        // Start from nothing, so a retried or resized reservation never holds twice.
        await capacity.ReleaseAsync(reservationId, Commit(cancellationToken), cancellationToken).ConfigureAwait(false);
        var held = await capacity.HoldAsync(reservationId, size.Demand, count, null, Commit(cancellationToken), cancellationToken).ConfigureAwait(false);
        if (held.Held < count)
        {
            await capacity.ReleaseAsync(reservationId, Commit(cancellationToken), cancellationToken).ConfigureAwait(false);
            return ProvisionOutcome.Failed("AllocationFailed", $"Allocation failed. We do not have sufficient capacity to reserve {count} VMs of size {size.Name} in this region (room for {held.Held}; {held.Shortfall?.Summary}). Please try a smaller capacity, another size, or retry later.");
        }

        return ProvisionOutcome.Succeeded;
    }

    public override async ValueTask<ProvisionOutcome> DeprovisionAsync(ResourceReconcileContext context, CancellationToken cancellationToken)
    {
        if (context.Properties["reservationId"] is not null)
        {
            await capacity.ReleaseAsync(ReservationIdOf(context.Properties), Commit(cancellationToken), cancellationToken).ConfigureAwait(false);
        }

        return ProvisionOutcome.Succeeded;
    }

    private static string ReservationIdOf(JsonObject properties) => properties["reservationId"]!.GetValue<string>().ToLowerInvariant();

    /// <summary>Whole instances of <paramref name="size"/> the reservation holds across the fleet, per the index.</summary>
    private int HeldUnits(string reservationId, VmSize size)
    {
        var units = 0;
        foreach (var host in capacity.Hosts())
        {
            foreach (var hold in host.Allocations.Reservations)
            {
                if (string.Equals(hold.ReservationId, reservationId, StringComparison.OrdinalIgnoreCase))
                {
                    units += size.VCpus == 0 ? 0 : hold.Held.VCpus / size.VCpus;
                }
            }
        }

        return units;
    }

    private CommitFn Commit(CancellationToken cancellationToken) => request => store.TxnAsync(request, cancellationToken);

    /// <summary>The reservation's size and count; throws Azure's <c>InvalidParameter</c> when the sku is missing or wrong.</summary>
    private static (VmSize Size, int Count) ReadSku(JsonObject resource)
    {
        if (resource["sku"] is not JsonObject sku || sku["name"] is not JsonValue name || name.GetValueKind() != JsonValueKind.String)
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, "Required parameter 'sku.name' is missing (null).", "sku.name");
        }

        var size = VmSizeCatalog.Find(name.GetValue<string>())
            ?? throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, $"The requested VM size {name.GetValue<string>()} is not available in the current region.", "sku.name");
        if (sku["capacity"] is not JsonValue capacity || capacity.GetValueKind() != JsonValueKind.Number || !capacity.TryGetValue<int>(out var count) || count < 0 || count > MaxCapacity)
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, $"The 'sku.capacity' property must be an integer from 0 to {MaxCapacity}.", "sku.capacity");
        }

        return (size, count);
    }
}
