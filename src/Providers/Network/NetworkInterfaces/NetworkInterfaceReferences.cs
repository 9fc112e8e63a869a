using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.State;

namespace Holdfast.Providers.Network;

/// <summary>
/// What compute uses to attach a network interface to a virtual machine in the VM's own transaction: read the NIC's
/// stored key (<see cref="Key"/>), then commit <see cref="NetworkInterfaceChange.Compare"/> and
/// <see cref="NetworkInterfaceChange.Op"/> with the VM's write. The compare is on the NIC's mod revision, so a NIC
/// deleted or attached elsewhere meanwhile makes the VM's transaction fail (re-read and decide again). Attaching sets
/// <c>properties.virtualMachine.id</c>, <c>primary</c> and a MAC address; a NIC with <c>virtualMachine</c> set cannot be
/// deleted (<c>NicInUse</c>).
/// </summary>
public static class NetworkInterfaceReferences
{
    public static string Key(ResourceId networkInterfaceId) => ResourceKeys.Resource(networkInterfaceId);

    /// <summary>The VM a stored NIC is attached to, or null.</summary>
    public static string? AttachedVirtualMachine(KeyValue networkInterface)
    {
        ArgumentNullException.ThrowIfNull(networkInterface);
        return NetworkReferences.IdOf((ResourceDocument.Parse(networkInterface.Value)["properties"] as JsonObject)?["virtualMachine"]);
    }

    /// <summary>The private IPv4 addresses of a stored NIC, primary configuration first.</summary>
    public static IReadOnlyList<string> PrivateIPAddresses(KeyValue networkInterface)
    {
        ArgumentNullException.ThrowIfNull(networkInterface);
        var configurations = ((ResourceDocument.Parse(networkInterface.Value)["properties"] as JsonObject)?["ipConfigurations"] as JsonArray)?.OfType<JsonObject>() ?? [];
        return configurations
            .Select(c => c["properties"] as JsonObject)
            .OrderByDescending(p => p?["primary"]?.GetValue<bool>() == true)
            .Select(p => p?["privateIPAddress"]?.GetValue<string>())
            .OfType<string>()
            .ToList();
    }

    /// <summary>
    /// Attaches the NIC to <paramref name="virtualMachineId"/> (idempotent for the same VM). Throws 400 <c>NicInUse</c>
    /// when it is attached to another VM, and 400 <c>InvalidResourceReference</c> when it is being deleted.
    /// </summary>
    public static NetworkInterfaceChange Attach(KeyValue networkInterface, string virtualMachineId, bool primary)
    {
        ArgumentNullException.ThrowIfNull(networkInterface);
        ArgumentException.ThrowIfNullOrEmpty(virtualMachineId);
        var document = ResourceDocument.Parse(networkInterface.Value);
        var id = document["id"]!.GetValue<string>();
        if (string.Equals(ResourceDocument.GetProvisioningState(document), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.BadRequest, "InvalidResourceReference", $"Resource {id} referenced by resource {virtualMachineId} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.");
        }

        var properties = document["properties"]!.AsObject();
        if (NetworkReferences.IdOf(properties["virtualMachine"]) is { } current && !string.Equals(current, virtualMachineId, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.BadRequest, "NicInUse", $"Network Interface {id} is used by existing resource {current}. In order to use it with {virtualMachineId}, it must be dissociated from that resource first.");
        }

        properties["virtualMachine"] = new JsonObject { ["id"] = virtualMachineId };
        properties["primary"] = primary;
        properties["macAddress"] = MacAddress(id);
        return new NetworkInterfaceChange(Compare.ModRevisionIs(networkInterface.Key, networkInterface.ModRevision), TxnOp.Put(networkInterface.Key, ResourceDocument.Serialize(document)));
    }

    /// <summary>Detaches the NIC from <paramref name="virtualMachineId"/>; null when it is not attached to that VM (nothing to write).</summary>
    public static NetworkInterfaceChange? Detach(KeyValue networkInterface, string virtualMachineId)
    {
        ArgumentNullException.ThrowIfNull(networkInterface);
        var document = ResourceDocument.Parse(networkInterface.Value);
        var properties = document["properties"]!.AsObject();
        if (!string.Equals(NetworkReferences.IdOf(properties["virtualMachine"]), virtualMachineId, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        properties.Remove("virtualMachine");
        properties.Remove("primary");
        properties.Remove("macAddress");
        return new NetworkInterfaceChange(Compare.ModRevisionIs(networkInterface.Key, networkInterface.ModRevision), TxnOp.Put(networkInterface.Key, ResourceDocument.Serialize(document)));
    }

    internal static ApiException InUse(ResourceId networkInterfaceId, string virtualMachineId) =>
        new(HttpStatusCode.BadRequest, "NicInUse", $"Network Interface {networkInterfaceId} is used by existing resource {virtualMachineId}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.");

    /// <summary>A stable MAC in Azure's form (<c>00-0D-3A-…</c>, Microsoft's OUI), derived from the NIC's id.</summary>
    internal static string MacAddress(string networkInterfaceId)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(networkInterfaceId.ToLowerInvariant()));
        return string.Create(CultureInfo.InvariantCulture, $"00-0D-3A-{hash[0]:X2}-{hash[1]:X2}-{hash[2]:X2}");
    }
}

/// <summary>The guard and the write that change one NIC inside another resource's transaction.</summary>
public sealed record NetworkInterfaceChange(Compare Compare, TxnOp Op);
