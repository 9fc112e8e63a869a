using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Network.Addressing;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.State;

namespace Holdfast.Providers.Network.VirtualNetworks;

/// <summary>
/// A subnet lives twice, as Azure shows it: as the child resource <c>virtualNetworks/{vnet}/subnets/{name}</c> and as an
/// entry of the virtual network's <c>properties.subnets</c>. Every write of one also writes the other in the same
/// transaction (the virtual network's and the subnet's admission), so a GET of either agrees.
/// </summary>
internal static class Subnets
{
    public const string Type = "Microsoft.Network/virtualNetworks/subnets";

    /// <summary>The entry for <c>properties.subnets</c> of the virtual network.</summary>
    public static JsonObject InlineEntry(ResourceId subnetId, JsonObject properties)
    {
        var copy = properties.DeepClone().AsObject();
        copy["provisioningState"] = ProvisioningStates.Succeeded;
        return new JsonObject
        {
            ["name"] = subnetId.Name,
            ["id"] = subnetId.ToString(),
            ["type"] = Type,
            ["properties"] = copy,
        };
    }

    /// <summary>The child resource written when the virtual network's PUT creates or changes a subnet.</summary>
    public static JsonObject ChildDocument(ResourceId subnetId, JsonObject properties, JsonObject? existing)
    {
        var document = existing?.DeepClone().AsObject() ?? new JsonObject
        {
            ["id"] = subnetId.ToString(),
            ["name"] = subnetId.Name,
            ["type"] = Type,
        };
        var copy = properties.DeepClone().AsObject();
        copy["provisioningState"] = ProvisioningStates.Succeeded;
        document["properties"] = copy;
        return document;
    }

    public static bool SameProperties(JsonObject? a, JsonObject? b)
    {
        var left = a?.DeepClone().AsObject() ?? [];
        var right = b?.DeepClone().AsObject() ?? [];
        left.Remove("provisioningState");
        right.Remove("provisioningState");
        return JsonNode.DeepEquals(left, right);
    }

    public static string? AddressPrefix(JsonObject? properties) =>
        properties?["addressPrefix"] is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;

    /// <summary>The addresses taken in a subnet: address → owning IP configuration id.</summary>
    public static async ValueTask<IReadOnlyList<(uint Address, string Key, string Owner, long ModRevision)>> TakenAsync(IStateStore store, ResourceId subnetId, CancellationToken cancellationToken)
    {
        var prefix = NetworkKeys.AddressesOf(subnetId);
        var taken = new List<(uint, string, string, long)>();
        string? after = null;
        do
        {
            var page = await store.RangeAsync(new RangeRequest(prefix, 1000, after), cancellationToken).ConfigureAwait(false);
            foreach (var kv in page.Items)
            {
                if (Ipv4Prefix.TryParseAddress(kv.Key[prefix.Length..], out var address))
                {
                    taken.Add((address, kv.Key, System.Text.Encoding.UTF8.GetString(kv.Value.Span), kv.ModRevision));
                }
            }

            after = page.ContinueAfter;
        }
        while (after is not null);
        return taken;
    }

    /// <summary>Refuses removing a subnet that still has addresses taken (Azure's <c>InUseSubnetCannotBeDeleted</c>).</summary>
    public static async ValueTask EnsureNotInUseAsync(IStateStore store, ResourceId subnetId, CancellationToken cancellationToken)
    {
        var taken = await TakenAsync(store, subnetId, cancellationToken).ConfigureAwait(false);
        if (taken.Count > 0)
        {
            throw InUse(subnetId, taken[0].Owner);
        }
    }

    public static ApiException InUse(ResourceId subnetId, string owner) =>
        new(HttpStatusCode.BadRequest, "InUseSubnetCannotBeDeleted", $"Subnet {subnetId.Name} is in use by {owner} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.");

    /// <summary>A new address range for a subnet in use must still hold every taken address outside its reserved ones.</summary>
    public static async ValueTask EnsurePrefixKeepsAddressesAsync(IStateStore store, ResourceId subnetId, string? oldPrefix, string? newPrefix, CancellationToken cancellationToken)
    {
        if (string.Equals(oldPrefix, newPrefix, StringComparison.Ordinal))
        {
            return;
        }

        var taken = await TakenAsync(store, subnetId, cancellationToken).ConfigureAwait(false);
        if (taken.Count == 0)
        {
            return;
        }

        if (!Ipv4Prefix.TryParse(newPrefix, out var range) || taken.Any(t => !range.Contains(t.Address) || range.IsReserved(t.Address)))
        {
            var owner = taken.FirstOrDefault(t => !range.Contains(t.Address) || range.IsReserved(t.Address)).Owner ?? taken[0].Owner;
            throw new ApiException(HttpStatusCode.BadRequest, "InUseSubnetCannotBeUpdated", $"Subnet {subnetId.Name} is in use by {owner} and its address prefix cannot be changed to {newPrefix}: the new range must contain every address in use.");
        }
    }

    /// <summary>Checks the subnet's network security group reference, if any, against the store.</summary>
    public static async ValueTask<Compare?> CheckSecurityGroupAsync(IStateStore store, ResourceId subnetId, JsonObject properties, CancellationToken cancellationToken)
    {
        if (properties["networkSecurityGroup"] is null)
        {
            return null;
        }

        var errors = new List<ApiError>();
        var nsg = NetworkReferences.ParseReference(properties["networkSecurityGroup"], "Microsoft.Network/networkSecurityGroups", "properties.networkSecurityGroup", (c, m, t) => errors.Add(new ApiError(c, m, t)));
        if (nsg is null)
        {
            throw ApiException.FromValidation(errors);
        }

        var kv = await NetworkReferences.RequireAsync(store, nsg, subnetId, cancellationToken).ConfigureAwait(false);
        return Compare.ModRevisionIs(kv.Key, kv.ModRevision);
    }

    /// <summary>The virtual network's address space, as IP networks (IPv4 and IPv6).</summary>
    public static List<IPNetwork> AddressSpace(JsonObject? vnetProperties)
    {
        var spaces = new List<IPNetwork>();
        if ((vnetProperties?["addressSpace"] as JsonObject)?["addressPrefixes"] is JsonArray prefixes)
        {
            foreach (var node in prefixes)
            {
                if (VirtualNetworkHandler.TryParsePrefix(node, out var network))
                {
                    spaces.Add(network);
                }
            }
        }

        return spaces;
    }
}
