using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Catalog;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Network;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Server.Compute.AvailabilitySets;
using Holdfast.Server.Compute.Disks;
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
            if (sizeName is not null && before is not null && !string.Equals(before, sizeName, StringComparison.OrdinalIgnoreCase) && ReservationGroupOf(existing) is not null)
            {
                context.AddError(ArmErrorCodes.PropertyChangeNotAllowed, "Changing property 'hardwareProfile.vmSize' of a VM in a capacity reservation group is not supported. Delete and re-create the VM with the new size.", "vmSize");
            }

            if (!string.Equals(ReservationGroupOf(existing), ReservationGroupOf(properties), StringComparison.OrdinalIgnoreCase))
            {
                context.AddError(ArmErrorCodes.PropertyChangeNotAllowed, "Changing property 'capacityReservation.capacityReservationGroup.id' is not allowed.", "capacityReservation");
            }
        }

        ValidateOsProfile(context, properties);
        ValidateReservationReference(context, properties);
        ValidateNetworkProfile(context, properties);
        AvailabilitySetReferences.Validate(context);
        VmDisks.Validate(context);

        // Read-only, server-set.
        properties.Remove("instanceView");
        properties["vmId"] = existing?["vmId"]?.DeepClone() ?? Guid.NewGuid().ToString();
    }

    public async ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        var admission = await AdmitCoreAsync(context, cancellationToken).ConfigureAwait(false);
        return context.Kind != AdmissionKind.Delete && VmGuestData.TakeCustomData(context.Properties) is { } customData
            ? new Admission(admission.Compares, [.. admission.Ops, customData])
            : admission;
    }

    private async ValueTask<Admission> AdmitCoreAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        if (context.Kind == AdmissionKind.Delete)
        {
            return Admission.None;
        }

        // 2024-11-01 added automatic zone placement (placement.zonePlacementPolicy, includeZones, excludeZones); it is
        // refused rather than ignored, so no VM lands outside the zones it asked for.
        if (context.Resource["placement"] is JsonObject { Count: > 0 })
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, "Automatic zone placement ('placement') is not supported in this cloud; name the VM's zone in 'zones' instead.", "placement");
        }

        var zone = ZoneOf(context.Resource);
        var previousZone = context.Previous is null ? null : ZoneOf(context.Previous);
        if (context.Kind == AdmissionKind.Update && !string.Equals(zone, previousZone, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(System.Net.HttpStatusCode.BadRequest, ArmErrorCodes.PropertyChangeNotAllowed, "Changing property 'zones' is not allowed.", "zones");
        }

        var network = await AttachNetworkInterfacesAsync(context, cancellationToken).ConfigureAwait(false);
        var disks = await VmDisks.AdmitAsync(context, cancellationToken).ConfigureAwait(false);
        network = new Admission([.. network.Compares, .. disks.Compares], [.. network.Ops, .. disks.Ops]);
        var size = VmSizeCatalog.Find(SizeOf(context.Properties))!;
        if (context.Kind != AdmissionKind.Create)
        {
            // A resize: the new size must be offered, and its added vCPUs charged, in this write's transaction.
            var previous = VmSizeCatalog.Find((context.Previous?["properties"] as JsonObject) is { } p ? SizeOf(p) : null);
            if (previous is null || string.Equals(previous.Name, size.Name, StringComparison.OrdinalIgnoreCase))
            {
                return network;
            }

            if (!FleetCanHost(size))
            {
                throw SkuNotAvailable(context.Id, size);
            }

            var delta = await quotas.ResizeAsync(context.Id.SubscriptionId!, previous, size, location, check: true, cancellationToken).ConfigureAwait(false);
            return new Admission([.. delta.Compares, .. network.Compares], [.. delta.Ops, .. network.Ops]);
        }

        if (!FleetCanHost(size))
        {
            throw SkuNotAvailable(context.Id, size);
        }

        if (ReservationGroupOf(context.Properties) is { } group)
        {
            await FindReservationAsync(context.Id.SubscriptionId!, group, size, cancellationToken).ConfigureAwait(false);
        }

        var charge = await quotas.ChargeAsync(context.Id.SubscriptionId!, size, location, cancellationToken).ConfigureAwait(false);
        var set = await AvailabilitySetReferences.JoinAsync(context, cancellationToken).ConfigureAwait(false);
        return new Admission([.. charge.Compares, .. network.Compares, .. set.Compares], [.. charge.Ops, .. network.Ops, .. set.Ops]);
    }

    public async ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken)
    {
        var properties = context.Resource["properties"] as JsonObject;
        var credit = VmSizeCatalog.Find(properties is null ? null : SizeOf(properties)) is { } size
            ? await quotas.CreditAsync(context.Id.SubscriptionId!, size, cancellationToken).ConfigureAwait(false)
            : Admission.None;
        var compares = new List<Compare>(credit.Compares);
        var ops = new List<TxnOp>(credit.Ops);
        var leave = await AvailabilitySetReferences.LeaveAsync(context, cancellationToken).ConfigureAwait(false);
        compares.AddRange(leave.Compares);
        ops.AddRange(leave.Ops);
        var disks = await VmDisks.ReleaseAsync(context, cancellationToken).ConfigureAwait(false);
        compares.AddRange(disks.Compares);
        ops.AddRange(disks.Ops);
        if (properties?["vmId"] is not null)
        {
            ops.Add(TxnOp.Delete(VmPowerIntent.Key(InstanceIdOf(properties))));
            ops.Add(TxnOp.Delete(FailureKey(InstanceIdOf(properties))));
            ops.Add(TxnOp.Delete(VmGuestData.SecretsKey(InstanceIdOf(properties))));
            ops.Add(TxnOp.Delete(VmGuestData.ConsoleKey(InstanceIdOf(properties))));
        }

        var vmId = context.Resource["id"]!.GetValue<string>();
        foreach (var nic in properties is null ? [] : NetworkInterfacesOf(properties))
        {
            var stored = await context.Store.GetAsync(NetworkInterfaceReferences.Key(nic), cancellationToken).ConfigureAwait(false);
            if (stored is not null && NetworkInterfaceReferences.Detach(stored, vmId) is { } change)
            {
                compares.Add(change.Compare);
                ops.Add(change.Op);
            }
        }

        return new Admission(compares, ops);
    }

    /// <summary>Where a VM's last provisioning failure is kept (code and message) for its instance view; removed with the VM.</summary>
    public static string FailureKey(string instanceId) => "/capacity/vmfailure/" + instanceId.ToLowerInvariant();

    public override async ValueTask<ProvisionOutcome> ProvisionAsync(ResourceReconcileContext context, CancellationToken cancellationToken)
    {
        var outcome = await ProvisionCoreAsync(context, cancellationToken).ConfigureAwait(false);
        if (outcome.Error is { } error && context.Properties["vmId"] is not null)
        {
            // Written before the framework marks the VM Failed, so a Failed VM's instance view can name the code.
            var failure = new JsonObject { ["code"] = error.Code, ["message"] = error.Message };
            await store.PutAsync(FailureKey(InstanceIdOf(context.Properties)), JsonSerializer.SerializeToUtf8Bytes(failure), null, cancellationToken).ConfigureAwait(false);
        }

        return outcome;
    }

    private async ValueTask<ProvisionOutcome> ProvisionCoreAsync(ResourceReconcileContext context, CancellationToken cancellationToken)
    {
        var instanceId = InstanceIdOf(context.Properties);
        var instanceKey = FabricKeys.Instance(instanceId);
        var stored = await store.GetAsync(instanceKey, cancellationToken).ConfigureAwait(false);
        var intentStored = await store.GetAsync(VmPowerIntent.Key(instanceId), cancellationToken).ConfigureAwait(false);
        var intent = intentStored is null ? new VmPowerIntent() : VmPowerIntent.Parse(intentStored.Value);
        if (intent.Deallocated)
        {
            // Deallocated: the VM keeps its resource (and quota) but holds no capacity.
            if (stored is not null)
            {
                await capacity.FreeAsync(instanceId, [], [], r => store.TxnAsync(r, cancellationToken), cancellationToken).ConfigureAwait(false);
            }

            return ProvisionOutcome.Succeeded;
        }

        if (stored is null)
        {
            return await PlaceAsync(context, instanceId, cancellationToken).ConfigureAwait(false);
        }

        var instance = FabricJson.Deserialize<InstanceDocument>(stored.Value.Span);
        var wanted = VmSizeCatalog.Find(SizeOf(context.Properties))!;
        if (intent.ResizeError is { } resizeError)
        {
            // A resize found no room and was undone (size and quota back): fail this operation with why.
            await store.TxnAsync(new TxnRequest([Compare.ModRevisionIs(intentStored!.Key, intentStored.ModRevision)], [TxnOp.Delete(intentStored.Key)]), cancellationToken).ConfigureAwait(false);
            if (string.Equals(instance.Size, wanted.Name, StringComparison.OrdinalIgnoreCase))
            {
                return ProvisionOutcome.Failed("AllocationFailed", resizeError);
            }

            return ProvisionOutcome.NotYet(TimeSpan.Zero);
        }

        if (!string.Equals(instance.Size, wanted.Name, StringComparison.OrdinalIgnoreCase))
        {
            return await ResizeAsync(context, instance, wanted, intentStored, cancellationToken).ConfigureAwait(false);
        }

        if (intent.RedeployFromEpoch is { } redeployFrom)
        {
            return await RedeployAsync(context, instance, redeployFrom, intentStored!, cancellationToken).ConfigureAwait(false);
        }

        if (instance.Observed is { } observed && observed.Epoch == instance.Epoch && instance.Host is not null)
        {
            if (observed.Error is not null)
            {
                return ProvisionOutcome.Failed("VMProvisioningFailed", $"The host reported an error for the VM: {observed.Error}");
            }

            if (observed.PowerState == instance.DesiredPowerState)
            {
                if (!intent.Restart)
                {
                    return ProvisionOutcome.Succeeded;
                }

                // The restart's first half is done (stopped): start it, in one step with clearing the intent.
                var started = instance with { DesiredPowerState = PowerState.Running };
                await store.TxnAsync(
                    new TxnRequest(
                        [Compare.ModRevisionIs(instanceKey, stored.ModRevision), Compare.ModRevisionIs(intentStored!.Key, intentStored.ModRevision)],
                        [TxnOp.Put(instanceKey, FabricJson.Serialize(started)), TxnOp.Delete(intentStored.Key)]),
                    cancellationToken).ConfigureAwait(false);
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
    public async Task<JsonObject> InstanceViewAsync(JsonObject resource, CancellationToken cancellationToken, string? serialConsoleLogUri = null)
    {
        var properties = resource["properties"] as JsonObject ?? [];
        var state = ResourceDocument.GetProvisioningState(resource) ?? ProvisioningStates.Succeeded;
        var failed = string.Equals(state, ProvisioningStates.Failed, StringComparison.OrdinalIgnoreCase);
        var provisioning = new JsonObject
        {
            ["code"] = "ProvisioningState/" + state.ToLowerInvariant(),
            ["level"] = failed ? "Error" : "Info",
            ["displayStatus"] = state switch
            {
                ProvisioningStates.Succeeded => "Provisioning succeeded",
                ProvisioningStates.Failed => "Provisioning failed",
                _ => state,
            },
        };
        if (failed && properties["vmId"] is not null
            && await store.GetAsync(FailureKey(InstanceIdOf(properties)), cancellationToken).ConfigureAwait(false) is { } failure
            && JsonNode.Parse(failure.Value.Span) is JsonObject error && error["code"] is JsonValue code)
        {
            // As Azure writes a failed VM's status: ProvisioningState/failed/{code}, with the error's message.
            provisioning["code"] = "ProvisioningState/failed/" + code.GetValue<string>();
            provisioning["message"] = error["message"]?.DeepClone();
        }

        var statuses = new JsonArray { provisioning };

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

        if (serialConsoleLogUri is not null && properties["vmId"] is not null
            && await store.GetAsync(VmGuestData.ConsoleKey(InstanceIdOf(properties)), cancellationToken).ConfigureAwait(false) is not null)
        {
            view["bootDiagnostics"] = new JsonObject { ["serialConsoleLogBlobUri"] = serialConsoleLogUri };
        }

        view["statuses"] = statuses;
        return view;
    }

    /// <summary>The fabric instance id of a VM: its <c>vmId</c>, lower-cased.</summary>
    public static string InstanceIdOf(JsonObject properties) => properties["vmId"]!.GetValue<string>().ToLowerInvariant();

    /// <summary>
    /// The zone a VM asks for: Azure takes <c>zones</c> as an array of one zone name (a VM lives in one zone); anything
    /// else is refused in the request.
    /// </summary>
    internal static string? ZoneOf(JsonObject resource)
    {
        switch (resource["zones"])
        {
            case null:
                return null;
            case JsonArray { Count: 0 }:
                return null;
            case JsonArray { Count: 1 } zones when zones[0] is JsonValue value && value.GetValueKind() == JsonValueKind.String && value.GetValue<string>() is { Length: > 0 and <= 64 } zone:
                return zone;
            default:
                throw new ApiException(System.Net.HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, "The 'zones' property of a virtual machine must be an array of one zone name, e.g. [\"1\"].", "zones");
        }
    }

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
            AvailabilitySet = AvailabilitySetReferences.PlacementKey(context.Properties),
            Zone = ZoneOf(context.Resource),
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
            if (instance.Zone is { } zone)
            {
                return ProvisionOutcome.Failed("ZonalAllocationFailed", $"Allocation failed. We do not have sufficient capacity for the requested VM size {size.Name} in zone '{zone}' ({why}). Please try another size, another zone or no zone, or retry later.");
            }

            return ProvisionOutcome.Failed("AllocationFailed", $"Allocation failed. We do not have sufficient capacity for the requested VM size {size.Name} in this region ({why}). Please try another size or retry later.");
        }

        LogPlaced(logger, context.Id, result.Host!);
        return ProvisionOutcome.NotYet(RunningPoll);
    }

    /// <summary>
    /// A resize's step: the instance takes the new size on its host when it fits there, else on another host
    /// (<see cref="CapacityService.ResizeAsync"/>; either way its host re-creates it: a restart, as Azure's resize). No
    /// host fits: one transaction, guarded by the VM's revision, puts the VM back to its old size, gives the quota back
    /// and records the error for the next pass to fail the operation with <c>AllocationFailed</c>.
    /// </summary>
    private async Task<ProvisionOutcome> ResizeAsync(ResourceReconcileContext context, InstanceDocument instance, VmSize wanted, KeyValue? intentStored, CancellationToken cancellationToken)
    {
        var result = await capacity.ResizeAsync(instance.Id, wanted.Demand, wanted.Name, r => store.TxnAsync(r, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (result.Placed || result.Host is null)
        {
            return ProvisionOutcome.NotYet(TimeSpan.Zero);
        }

        var old = VmSizeCatalog.Find(instance.Size) ?? throw new InvalidOperationException($"Instance '{instance.Id}' has an unknown size '{instance.Size}'.");
        var key = ResourceKeys.Resource(context.Id);
        var current = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        if (current is null)
        {
            return ProvisionOutcome.NotYet(TimeSpan.Zero);
        }

        var resource = ResourceDocument.Parse(current.Value);
        if (!string.Equals(SizeOf((JsonObject)resource["properties"]!), wanted.Name, StringComparison.OrdinalIgnoreCase))
        {
            return ProvisionOutcome.NotYet(TimeSpan.Zero);
        }

        ((JsonObject)resource["properties"]!["hardwareProfile"]!)["vmSize"] = old.Name;
        var restore = await quotas.ResizeAsync(context.Id.SubscriptionId!, wanted, old, location, check: false, cancellationToken).ConfigureAwait(false);
        var why = result.Explanation?.Summary ?? "no host fits";
        var message = $"Allocation failed. We do not have sufficient capacity for the requested VM size {wanted.Name} in this region ({why}). The VM keeps its size {old.Name} and its host. Please try another size or retry later.";
        var intentKey = VmPowerIntent.Key(instance.Id);
        var intent = (intentStored is null ? new VmPowerIntent() : VmPowerIntent.Parse(intentStored.Value)) with { ResizeError = message };
        await store.TxnAsync(
            new TxnRequest(
                [Compare.ModRevisionIs(key, current.ModRevision), intentStored is null ? Compare.Absent(intentKey) : Compare.ModRevisionIs(intentKey, intentStored.ModRevision), .. restore.Compares],
                [TxnOp.Put(key, ResourceDocument.Serialize(resource)), TxnOp.Put(intentKey, intent.Serialize()), .. restore.Ops]),
            cancellationToken).ConfigureAwait(false);
        LogAllocationFailed(logger, context.Id, wanted.Name, why);
        return ProvisionOutcome.NotYet(TimeSpan.Zero);
    }

    private ApiException SkuNotAvailable(ResourceId id, VmSize size) =>
        new(HttpStatusCode.Conflict, "SkuNotAvailable", $"The requested size {size.Name} for resource '{id}' is currently not available in location '{location}' for subscription '{id.SubscriptionId}'. Please try another size or deploy to a different location. Sizes offered here are listed by GET /subscriptions/{id.SubscriptionId}/providers/Microsoft.Compute/locations/{location}/vmSizes.");

    /// <summary>
    /// A redeploy's step: while the instance is still at the epoch the redeploy saw, move it to another host
    /// (<see cref="CapacityService.MoveAsync"/>, staying put when nothing else fits: <c>AllocationFailed</c>); once its
    /// epoch is past that, the move is done and the intent is cleared, and the VM succeeds when its new host reports it.
    /// </summary>
    private async Task<ProvisionOutcome> RedeployAsync(ResourceReconcileContext context, InstanceDocument instance, long redeployFrom, KeyValue intentStored, CancellationToken cancellationToken)
    {
        if (instance.Epoch <= redeployFrom)
        {
            var from = instance.Host;
            var moved = await capacity.MoveAsync(instance.Id, unplaceIfNoRoom: false, r => store.TxnAsync(r, cancellationToken), cancellationToken).ConfigureAwait(false);
            if (!moved.Placed)
            {
                await store.TxnAsync(new TxnRequest([Compare.ModRevisionIs(intentStored.Key, intentStored.ModRevision)], [TxnOp.Delete(intentStored.Key)]), cancellationToken).ConfigureAwait(false);
                var why = moved.Explanation?.Summary ?? "no other host fits";
                LogAllocationFailed(logger, context.Id, instance.Size ?? "?", why);
                return ProvisionOutcome.Failed("AllocationFailed", $"Allocation failed. The VM could not be redeployed: no other host has sufficient capacity for the VM size {instance.Size} ({why}). The VM keeps running where it is; retry later.");
            }

            LogRedeployed(logger, context.Id, from ?? "(none)", moved.Host!);
            return ProvisionOutcome.NotYet(TimeSpan.Zero);
        }

        // Moved: clear the intent; then wait for the new host's report like any provisioning.
        await store.TxnAsync(new TxnRequest([Compare.ModRevisionIs(intentStored.Key, intentStored.ModRevision)], [TxnOp.Delete(intentStored.Key)]), cancellationToken).ConfigureAwait(false);
        return ProvisionOutcome.NotYet(TimeSpan.Zero);
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

    /// <summary>
    /// Attaches the VM's network interfaces in its own transaction (Microsoft.Network's <see cref="NetworkInterfaceReferences"/>):
    /// a NIC that does not exist is 400 <c>InvalidResourceReference</c>, one attached elsewhere 400 <c>NicInUse</c>; NICs an
    /// update dropped are detached.
    /// </summary>
    private static async Task<Admission> AttachNetworkInterfacesAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        var vmId = context.Resource["id"]!.GetValue<string>();
        var compares = new List<Compare>();
        var ops = new List<TxnOp>();
        var wanted = NetworkInterfacesOf(context.Properties);
        var primary = PrimaryOf(context.Properties);
        foreach (var nic in wanted)
        {
            var stored = await context.Store.GetAsync(NetworkInterfaceReferences.Key(nic), cancellationToken).ConfigureAwait(false)
                ?? throw new ApiException(HttpStatusCode.BadRequest, "InvalidResourceReference", $"Resource {nic} referenced by resource {vmId} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.", "networkProfile.networkInterfaces");
            var change = NetworkInterfaceReferences.Attach(stored, vmId, string.Equals(nic.ToString(), primary?.ToString(), StringComparison.OrdinalIgnoreCase));
            compares.Add(change.Compare);
            ops.Add(change.Op);
        }

        var previous = context.Previous?["properties"] as JsonObject;
        foreach (var dropped in previous is null ? [] : NetworkInterfacesOf(previous).Where(p => !wanted.Any(w => string.Equals(w.ToString(), p.ToString(), StringComparison.OrdinalIgnoreCase))))
        {
            var stored = await context.Store.GetAsync(NetworkInterfaceReferences.Key(dropped), cancellationToken).ConfigureAwait(false);
            if (stored is not null && NetworkInterfaceReferences.Detach(stored, vmId) is { } change)
            {
                compares.Add(change.Compare);
                ops.Add(change.Op);
            }
        }

        return new Admission(compares, ops);
    }

    /// <summary>The NIC ids of a (validated) VM's <c>networkProfile</c>.</summary>
    private static List<ResourceId> NetworkInterfacesOf(JsonObject properties)
    {
        var list = new List<ResourceId>();
        foreach (var reference in ((properties["networkProfile"] as JsonObject)?["networkInterfaces"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            if (reference["id"] is JsonValue value && value.TryGetValue<string>(out var text) && ResourceId.TryParse(text, out var id, out _))
            {
                list.Add(id);
            }
        }

        return list;
    }

    /// <summary>The primary NIC: the one marked primary, or the only one.</summary>
    private static ResourceId? PrimaryOf(JsonObject properties)
    {
        var references = ((properties["networkProfile"] as JsonObject)?["networkInterfaces"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        var marked = references.FirstOrDefault(r => r["properties"]?["primary"] is JsonValue p && p.TryGetValue<bool>(out var b) && b) ?? (references.Count == 1 ? references[0] : null);
        return marked?["id"] is JsonValue value && value.TryGetValue<string>(out var text) && ResourceId.TryParse(text, out var id, out _) ? id : null;
    }

    private static void ValidateNetworkProfile(ResourceValidationContext context, JsonObject properties)
    {
        if (properties["networkProfile"] is null)
        {
            return;
        }

        if (properties["networkProfile"] is not JsonObject profile || (profile["networkInterfaces"] is { } list && list is not JsonArray))
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "The 'networkProfile.networkInterfaces' property must be an array of network interface references.", "networkProfile");
            return;
        }

        var references = profile["networkInterfaces"] as JsonArray ?? [];
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var primaries = 0;
        string? unset = null;
        for (var i = 0; i < references.Count; i++)
        {
            var target = $"networkProfile.networkInterfaces[{i}]";
            if (references[i] is not JsonObject reference
                || reference["id"] is not JsonValue value || !value.TryGetValue<string>(out var text)
                || !ResourceId.TryParse(text, out var id, out _)
                || !string.Equals(id.ResourceType, "Microsoft.Network/networkInterfaces", StringComparison.OrdinalIgnoreCase)
                || !string.Equals(id.SubscriptionId, context.Id.SubscriptionId, StringComparison.OrdinalIgnoreCase))
            {
                context.AddError(ArmErrorCodes.InvalidParameter, "Each network interface reference must have the 'id' of a network interface in this subscription.", target + ".id");
                continue;
            }

            if (!seen.Add(id.ToString()))
            {
                context.AddError(ArmErrorCodes.InvalidParameter, $"Network interface {text} is referenced more than once.", target + ".id");
            }

            var primary = reference["properties"]?["primary"];
            unset ??= primary is null ? text : null;
            if (primary is not null && primary.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
            {
                context.AddError(ArmErrorCodes.InvalidParameter, "The 'primary' property must be a boolean.", target + ".properties.primary");
            }
            else if (primary?.GetValueKind() == JsonValueKind.True)
            {
                primaries++;
            }
        }

        // Azure's compute refuses a NIC of several without 'primary' under its own code, before counting the primaries.
        if (references.Count > 1 && unset is not null)
        {
            context.AddError("NetworkInterfaceMustHavePrimaryPropertySet", $"Network interface {unset} must have Primary property set.", "networkProfile.networkInterfaces");
        }
        else if (references.Count > 1 && primaries != 1)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "Virtual machine with multiple network interfaces must have exactly one network interface marked as primary.", "networkProfile.networkInterfaces");
        }
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

        if (osProfile["customData"] is { } customData && customData.GetValueKind() != JsonValueKind.String)
        {
            context.AddError(ArmErrorCodes.InvalidParameter, "The 'osProfile.customData' property must be a base64 string.", "customData");
        }

        // Secrets are never stored in the resource, so GET never returns them (as Azure leaves them out); customData is
        // kept apart for the host that builds the VM (VmGuestData).
        osProfile.Remove("adminPassword");
        VmGuestData.HoldCustomData(properties, osProfile);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Redeployed {ResourceId} from {From} to {To}")]
    private static partial void LogRedeployed(ILogger logger, ResourceId resourceId, string from, string to);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Allocation of {ResourceId} ({Size}) failed: {Reason}")]
    private static partial void LogAllocationFailed(ILogger logger, ResourceId resourceId, string size, string reason);
}
