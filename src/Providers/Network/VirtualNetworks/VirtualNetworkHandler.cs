using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;

namespace Holdfast.Providers.Network.VirtualNetworks;

/// <summary>
/// Microsoft.Network/virtualNetworks: validates the address space and inline subnets as Azure does (well-formed CIDRs,
/// subnets inside the space, no overlaps, unique names) and fills Azure's defaults. Provisioning is bookkeeping only
/// until the host network datapath exists (issue 5); the handler is the seam where that work will go.
/// </summary>
internal sealed class VirtualNetworkHandler : ResourceTypeHandler
{
    public override void Validate(ResourceValidationContext context)
    {
        var properties = context.Properties;
        var spaces = new List<IPNetwork>();
        var addressPrefixes = (properties["addressSpace"] as JsonObject)?["addressPrefixes"] as JsonArray;
        if (addressPrefixes is null || addressPrefixes.Count == 0)
        {
            context.AddError("InvalidRequestFormat", "The virtual network must have at least one address prefix in properties.addressSpace.addressPrefixes.", "properties.addressSpace.addressPrefixes");
        }
        else
        {
            for (var i = 0; i < addressPrefixes.Count; i++)
            {
                if (TryParsePrefix(addressPrefixes[i], out var network))
                {
                    if (spaces.Any(s => Overlaps(s, network)))
                    {
                        context.AddError("NetcfgInvalidVirtualNetworkSite", $"Address prefix '{network}' overlaps another address prefix of the virtual network.", $"properties.addressSpace.addressPrefixes[{i}]");
                    }

                    spaces.Add(network);
                }
                else
                {
                    context.AddError("InvalidAddressPrefixFormat", $"Address prefix '{addressPrefixes[i]?.ToJsonString()}' is not a valid CIDR (e.g. 10.0.0.0/16, host bits zero).", $"properties.addressSpace.addressPrefixes[{i}]");
                }
            }
        }

        ValidateSubnets(context, spaces);
        ValidateDns(context);

        properties["resourceGuid"] = context.ExistingProperties?["resourceGuid"]?.DeepClone() ?? Guid.NewGuid().ToString();
        properties["enableDdosProtection"] ??= false;
        properties["virtualNetworkPeerings"] ??= new JsonArray();
    }

    private static void ValidateSubnets(ResourceValidationContext context, List<IPNetwork> spaces)
    {
        if (context.Properties["subnets"] is null)
        {
            context.Properties["subnets"] = new JsonArray();
            return;
        }

        if (context.Properties["subnets"] is not JsonArray subnets)
        {
            context.AddError("InvalidRequestFormat", "properties.subnets must be an array.", "properties.subnets");
            return;
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var seen = new List<(string Name, IPNetwork Network)>();
        for (var i = 0; i < subnets.Count; i++)
        {
            var target = $"properties.subnets[{i}]";
            if (subnets[i] is not JsonObject subnet || subnet["name"]?.GetValueKind() != System.Text.Json.JsonValueKind.String)
            {
                context.AddError("InvalidRequestFormat", "Each subnet must be an object with a name.", target);
                continue;
            }

            var name = subnet["name"]!.GetValue<string>();
            if (Holdfast.Resources.Ids.NameRule.Default.Validate(name) is { } problem)
            {
                context.AddError(ArmErrorCodes.InvalidResourceName, $"Subnet name '{name}' is invalid. {problem}", target + ".name");
            }

            if (!names.Add(name))
            {
                context.AddError("DuplicateResourceName", $"The virtual network has two subnets named '{name}'.", target + ".name");
            }

            var subnetProperties = subnet["properties"] as JsonObject;
            if (subnetProperties is null || !TryParsePrefix(subnetProperties["addressPrefix"], out var network))
            {
                context.AddError("InvalidAddressPrefixFormat", $"Subnet '{name}' needs a valid CIDR in properties.addressPrefix.", target + ".properties.addressPrefix");
                continue;
            }

            if (spaces.Count > 0 && !spaces.Any(s => Contains(s, network)))
            {
                context.AddError("NetcfgSubnetRangeOutsideVnet", $"Subnet '{name}' is not valid because its IP address range {network} is outside the IP address range of the virtual network.", target + ".properties.addressPrefix");
            }

            foreach (var (otherName, other) in seen)
            {
                if (Overlaps(other, network))
                {
                    context.AddError("NetcfgSubnetRangesOverlap", $"Subnet '{name}' is not valid because its IP address range {network} overlaps with that of subnet '{otherName}' ({other}).", target + ".properties.addressPrefix");
                }
            }

            seen.Add((name, network));
            var subnetId = context.Id + "/subnets/" + name;
            subnet["id"] = subnetId;
            subnet["type"] = "Microsoft.Network/virtualNetworks/subnets";
            subnetProperties["provisioningState"] = ProvisioningStates.Succeeded;
        }
    }

    private static void ValidateDns(ResourceValidationContext context)
    {
        if ((context.Properties["dhcpOptions"] as JsonObject)?["dnsServers"] is not JsonArray servers)
        {
            return;
        }

        for (var i = 0; i < servers.Count; i++)
        {
            if (servers[i]?.GetValueKind() != System.Text.Json.JsonValueKind.String || !TryParseAddress(servers[i]!.GetValue<string>(), out _))
            {
                context.AddError("InvalidDnsServer", $"DNS server '{servers[i]?.ToJsonString()}' is not an IP address.", $"properties.dhcpOptions.dnsServers[{i}]");
            }
        }
    }

    /// <summary>
    /// A CIDR as Azure accepts it. <see cref="IPNetwork.TryParse(string?, out IPNetwork)"/> alone is too lenient: it
    /// clears host bits (<c>10.0.0.1/16</c> becomes <c>10.0.0.0/16</c>), so the address must be the network's base.
    /// </summary>
    private static bool TryParsePrefix(JsonNode? node, out IPNetwork network)
    {
        network = default;
        if (node?.GetValueKind() != System.Text.Json.JsonValueKind.String)
        {
            return false;
        }

        var text = node.GetValue<string>();
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        return slash > 0
            && IPNetwork.TryParse(text, out network)
            && TryParseAddress(text[..slash], out var address)
            && address.Equals(network.BaseAddress);
    }

    /// <summary>
    /// An IP address in its usual text form. <see cref="IPAddress.TryParse(string?, out IPAddress?)"/> also takes legacy
    /// IPv4 forms (<c>10.0.0</c>, <c>53</c>, octal <c>010.0.0.1</c>) that Azure refuses, so IPv4 must be canonical dotted decimal.
    /// </summary>
    private static bool TryParseAddress(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address) =>
        IPAddress.TryParse(text, out address)
        && (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || string.Equals(address.ToString(), text, StringComparison.Ordinal));

    private static bool Contains(IPNetwork outer, IPNetwork inner) =>
        outer.BaseAddress.AddressFamily == inner.BaseAddress.AddressFamily && outer.PrefixLength <= inner.PrefixLength && outer.Contains(inner.BaseAddress);

    private static bool Overlaps(IPNetwork a, IPNetwork b) => Contains(a, b) || Contains(b, a);
}
