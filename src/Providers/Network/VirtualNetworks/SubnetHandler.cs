using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Network.Addressing;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.State;

namespace Holdfast.Providers.Network.VirtualNetworks;

/// <summary>
/// Microsoft.Network/virtualNetworks/subnets as a child resource. Validation checks the prefix alone; admission checks it
/// against the virtual network (inside its address space, no overlap with a sibling), the security group it names, and
/// writes the subnet's entry into the virtual network's <c>properties.subnets</c> in the same transaction. A subnet with
/// addresses taken cannot be deleted (<c>InUseSubnetCannotBeDeleted</c>): checked in the request, and again in the
/// reconcile loop once the subnet is marked deleting, when no NIC can take an address from it any more.
/// </summary>
internal sealed class SubnetHandler(IStateStore? store) : ResourceTypeHandler, IResourceAdmission
{
    private static readonly TimeSpan WaitForNics = TimeSpan.FromSeconds(1);

    public override void Validate(ResourceValidationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!VirtualNetworkHandler.TryParsePrefix(context.Properties["addressPrefix"], out var network))
        {
            var error = VirtualNetworkHandler.PrefixError(context.Properties["addressPrefix"], context.Id, "properties.addressPrefix");
            context.AddError(error.Code, error.Message, error.Target!);
        }
        else if (network.BaseAddress.AddressFamily == AddressFamily.InterNetwork && network.PrefixLength > Ipv4Prefix.MaxSubnetPrefixLength)
        {
            context.AddError("NetcfgInvalidSubnet", $"Subnet '{context.Id.Name}' is not valid because its address prefix {network} is smaller than the smallest subnet Azure allows (/{Ipv4Prefix.MaxSubnetPrefixLength}).", "properties.addressPrefix");
        }

        if (context.Properties["networkSecurityGroup"] is { } nsg)
        {
            NetworkReferences.ParseReference(nsg, "Microsoft.Network/networkSecurityGroups", "properties.networkSecurityGroup", context.AddError);
        }
    }

    public async ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Kind == AdmissionKind.Delete)
        {
            await Subnets.EnsureNotInUseAsync(context.Store, context.Id, cancellationToken).ConfigureAwait(false);
            return Admission.None;
        }

        var vnetId = context.Id.Parent!;
        var vnetKey = ResourceKeys.Resource(vnetId);
        var vnetStored = await context.Store.GetAsync(vnetKey, cancellationToken).ConfigureAwait(false)
            ?? throw new ApiException(HttpStatusCode.NotFound, "ParentResourceNotFound", $"Can not perform requested operation on nested resource. Parent resource '{vnetId.Name}' not found.");
        var vnet = ResourceDocument.Parse(vnetStored.Value);
        if (string.Equals(ResourceDocument.GetProvisioningState(vnet), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.Conflict, "AnotherOperationInProgress", $"The virtual network '{vnetId.Name}' is being deleted.");
        }

        var properties = context.Properties;
        if (!VirtualNetworkHandler.TryParsePrefix(properties["addressPrefix"], out var network))
        {
            throw new InvalidOperationException("Validation admits only a subnet with a valid prefix.");
        }

        var vnetProperties = vnet["properties"] as JsonObject ?? [];
        var errors = new List<ApiError>();
        if (!Subnets.AddressSpace(vnetProperties).Any(space => VirtualNetworkHandler.Contains(space, network)))
        {
            errors.Add(new ApiError("NetcfgSubnetRangeOutsideVnet", $"Subnet '{context.Id.Name}' is not valid because its IP address range {network} is outside the IP address range of virtual network '{vnetId.Name}'.", "properties.addressPrefix"));
        }

        var inline = vnetProperties["subnets"] as JsonArray ?? [];
        var position = -1;
        for (var i = 0; i < inline.Count; i++)
        {
            var sibling = inline[i] as JsonObject;
            var name = sibling?["name"]?.GetValue<string>();
            if (string.Equals(name, context.Id.Name, StringComparison.OrdinalIgnoreCase))
            {
                position = i;
                continue;
            }

            if (VirtualNetworkHandler.TryParsePrefix((sibling?["properties"] as JsonObject)?["addressPrefix"], out var other) && VirtualNetworkHandler.Overlaps(other, network))
            {
                errors.Add(new ApiError("NetcfgSubnetRangesOverlap", $"Subnet '{context.Id.Name}' is not valid because its IP address range {network} overlaps with that of subnet '{name}' ({other}).", "properties.addressPrefix"));
            }
        }

        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        var compares = new List<Compare> { Compare.ModRevisionIs(vnetKey, vnetStored.ModRevision) };
        if (await Subnets.CheckSecurityGroupAsync(context.Store, context.Id, properties, cancellationToken).ConfigureAwait(false) is { } nsgCompare)
        {
            compares.Add(nsgCompare);
        }

        if (context.Previous?["properties"] is JsonObject previous)
        {
            await Subnets.EnsurePrefixKeepsAddressesAsync(context.Store, context.Id, Subnets.AddressPrefix(previous), Subnets.AddressPrefix(properties), cancellationToken).ConfigureAwait(false);
        }

        var entry = Subnets.InlineEntry(context.Id, properties);
        if (position >= 0)
        {
            inline[position] = entry;
        }
        else
        {
            inline.Add(entry);
        }

        vnetProperties["subnets"] = inline;
        var ops = new List<TxnOp> { TxnOp.Put(vnetKey, ResourceDocument.Serialize(vnet)) };
        NetworkReferences.Track(context.Id, NetworkReferences.IdOf((context.Previous?["properties"] as JsonObject)?["networkSecurityGroup"]), NetworkReferences.IdOf(properties["networkSecurityGroup"]), ops);
        return new Admission(compares, ops);
    }

    public override async ValueTask<ProvisionOutcome> DeprovisionAsync(ResourceReconcileContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (store is null)
        {
            return ProvisionOutcome.Succeeded;
        }

        // Marked deleting, the subnet gives no address any more; what is still taken is either being released by a NIC
        // on its way out (wait for it) or was taken just before the mark (the delete fails, as Azure's would).
        foreach (var (_, _, owner, _) in await Subnets.TakenAsync(store, context.Id, cancellationToken).ConfigureAwait(false))
        {
            var nicId = owner[..Math.Max(0, owner.LastIndexOf("/ipConfigurations/", StringComparison.OrdinalIgnoreCase))];
            var nic = ResourceId.TryParse(nicId, out var parsed, out _) ? await store.GetAsync(ResourceKeys.Resource(parsed), cancellationToken).ConfigureAwait(false) : null;
            if (nic is null)
            {
                continue;
            }

            if (string.Equals(ResourceDocument.GetProvisioningState(ResourceDocument.Parse(nic.Value)), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
            {
                return ProvisionOutcome.NotYet(WaitForNics);
            }

            var error = Subnets.InUse(context.Id, owner);
            return ProvisionOutcome.Failed(error.Code, error.Message);
        }

        return ProvisionOutcome.Succeeded;
    }

    public async ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var ops = new List<TxnOp> { TxnOp.DeletePrefix(NetworkKeys.AddressesOf(context.Id)) };
        NetworkReferences.Track(context.Id, NetworkReferences.IdOf((context.Resource["properties"] as JsonObject)?["networkSecurityGroup"]), null, ops);
        var vnetKey = ResourceKeys.Resource(context.Id.Parent!);
        var vnetStored = await context.Store.GetAsync(vnetKey, cancellationToken).ConfigureAwait(false);
        if (vnetStored is null)
        {
            return new Admission([Compare.Absent(vnetKey)], ops);
        }

        var vnet = ResourceDocument.Parse(vnetStored.Value);
        if ((vnet["properties"] as JsonObject)?["subnets"] is JsonArray inline)
        {
            var entry = inline.OfType<JsonObject>().FirstOrDefault(s => string.Equals(s["name"]?.GetValue<string>(), context.Id.Name, StringComparison.OrdinalIgnoreCase));
            if (entry is not null)
            {
                inline.Remove(entry);
                ops.Add(TxnOp.Put(vnetKey, ResourceDocument.Serialize(vnet)));
            }
        }

        return new Admission([Compare.ModRevisionIs(vnetKey, vnetStored.ModRevision)], ops);
    }
}
