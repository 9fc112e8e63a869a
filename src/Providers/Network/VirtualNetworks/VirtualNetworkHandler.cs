using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Network.Addressing;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.State;

namespace Holdfast.Providers.Network.VirtualNetworks;

/// <summary>
/// Microsoft.Network/virtualNetworks: validates the address space and inline subnets as Azure does (well-formed CIDRs,
/// subnets inside the space, no overlaps, unique names) and fills Azure's defaults. Provisioning is bookkeeping only
/// until the host network datapath exists; the handler is the seam where that work will go. Its admission keeps the
/// child subnet resources equal to <c>properties.subnets</c> in the same transaction: a PUT creates, updates and removes
/// them (refusing to remove one in use), and a DELETE marks them deleting (refusing when one is in use).
/// </summary>
internal sealed class VirtualNetworkHandler : ResourceTypeHandler, IResourceAdmission
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
                    var error = PrefixError(addressPrefixes[i], context.Id, $"properties.addressSpace.addressPrefixes[{i}]");
                    context.AddError(error.Code, error.Message, error.Target!);
                }
            }
        }

        ValidateSubnets(context, spaces);
        ValidateDns(context);

        properties["resourceGuid"] = context.ExistingProperties?["resourceGuid"]?.DeepClone() ?? Guid.NewGuid().ToString();
        properties["enableDdosProtection"] ??= false;
        properties["virtualNetworkPeerings"] ??= new JsonArray();
    }

    public async ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var store = context.Store;
        var children = await store.RangeAsync(new RangeRequest(NetworkKeys.SubnetsOf(context.Id)), cancellationToken).ConfigureAwait(false);
        var existing = new Dictionary<string, KeyValue>(StringComparer.OrdinalIgnoreCase);
        foreach (var child in children.Items)
        {
            var rest = child.Key[NetworkKeys.SubnetsOf(context.Id).Length..];
            if (!rest.Contains('/', StringComparison.Ordinal))
            {
                existing[rest] = child;
            }
        }

        var compares = new List<Compare>();
        var ops = new List<TxnOp>();
        if (context.Kind == AdmissionKind.Delete)
        {
            foreach (var (name, child) in existing)
            {
                var subnetId = context.Id.Child("subnets", name);
                await Subnets.EnsureNotInUseAsync(store, subnetId, cancellationToken).ConfigureAwait(false);
                MarkDeleting(child, compares, ops);
            }

            return new Admission(compares, ops);
        }

        var desired = context.Properties["subnets"] as JsonArray ?? [];
        var kept = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in desired.OfType<JsonObject>())
        {
            var name = entry["name"]!.GetValue<string>();
            var properties = entry["properties"] as JsonObject ?? [];
            var subnetId = context.Id.Child("subnets", name);
            kept.Add(name);
            if (await Subnets.CheckSecurityGroupAsync(store, subnetId, properties, cancellationToken).ConfigureAwait(false) is { } nsgCompare)
            {
                compares.Add(nsgCompare);
            }

            var childKey = ResourceKeys.Resource(subnetId);
            if (existing.TryGetValue(name, out var child))
            {
                var stored = ResourceDocument.Parse(child.Value);
                EnsureTerminal(subnetId, stored);
                compares.Add(Compare.ModRevisionIs(childKey, child.ModRevision));
                var storedProperties = stored["properties"] as JsonObject;
                if (!Subnets.SameProperties(storedProperties, properties))
                {
                    await Subnets.EnsurePrefixKeepsAddressesAsync(store, subnetId, Subnets.AddressPrefix(storedProperties), Subnets.AddressPrefix(properties), cancellationToken).ConfigureAwait(false);
                    ops.Add(TxnOp.Put(childKey, ResourceDocument.Serialize(Subnets.ChildDocument(subnetId, properties, stored))));
                    NetworkReferences.Track(subnetId, NetworkReferences.IdOf(storedProperties?["networkSecurityGroup"]), NetworkReferences.IdOf(properties["networkSecurityGroup"]), ops);
                }
            }
            else
            {
                compares.Add(Compare.Absent(childKey));
                ops.Add(TxnOp.Put(childKey, ResourceDocument.Serialize(Subnets.ChildDocument(subnetId, properties, null))));
                NetworkReferences.Track(subnetId, null, NetworkReferences.IdOf(properties["networkSecurityGroup"]), ops);
            }
        }

        foreach (var (name, child) in existing)
        {
            if (kept.Contains(name))
            {
                continue;
            }

            // As Azure: a PUT without a subnet removes it, unless something uses it.
            var subnetId = context.Id.Child("subnets", name);
            EnsureTerminal(subnetId, ResourceDocument.Parse(child.Value));
            await Subnets.EnsureNotInUseAsync(store, subnetId, cancellationToken).ConfigureAwait(false);
            MarkDeleting(child, compares, ops);
        }

        return new Admission(compares, ops);
    }

    public ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken) => ValueTask.FromResult(Admission.None);

    /// <summary>A subnet leaves through the reconcile loop, which checks again that nothing uses it (no NIC can take an address once it is marked).</summary>
    private static void MarkDeleting(KeyValue child, List<Compare> compares, List<TxnOp> ops)
    {
        var document = ResourceDocument.Parse(child.Value);
        compares.Add(Compare.ModRevisionIs(child.Key, child.ModRevision));
        if (!string.Equals(ResourceDocument.GetProvisioningState(document), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
        {
            ResourceDocument.SetProvisioningState(document, ProvisioningStates.Deleting);
            ops.Add(TxnOp.Put(child.Key, ResourceDocument.Serialize(document)));
        }
    }

    private static void EnsureTerminal(ResourceId subnetId, JsonObject stored)
    {
        var state = ResourceDocument.GetProvisioningState(stored);
        if (!ProvisioningStates.IsTerminal(state))
        {
            throw new ApiException(HttpStatusCode.Conflict, "AnotherOperationInProgress", $"Another operation on '{subnetId}' is in progress (provisioningState '{state}'). Retry when it has finished.");
        }
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
                var error = PrefixError(subnetProperties?["addressPrefix"], context.Id.Child("subnets", name), target + ".properties.addressPrefix");
                context.AddError(error.Code, error.Message, error.Target!);
                continue;
            }

            if (network.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && network.PrefixLength > Ipv4Prefix.MaxSubnetPrefixLength)
            {
                context.AddError("NetcfgInvalidSubnet", $"Subnet '{name}' is not valid because its address prefix {network} is smaller than the smallest subnet Azure allows (/{Ipv4Prefix.MaxSubnetPrefixLength}).", target + ".properties.addressPrefix");
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
    internal static bool TryParsePrefix(JsonNode? node, out IPNetwork network)
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
    /// Azure's refusal of a prefix <see cref="TryParsePrefix"/> did not take: <c>InvalidCIDRNotation</c> (naming the
    /// prefix it should be) when only host bits are set, else <c>InvalidAddressPrefixFormat</c>.
    /// </summary>
    internal static ApiError PrefixError(JsonNode? node, ResourceId resource, string target)
    {
        var text = node?.GetValueKind() == System.Text.Json.JsonValueKind.String ? node.GetValue<string>() : node?.ToJsonString() ?? "null";
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0
            && TryParseAddress(text[..slash], out var address)
            && int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length))
        {
            var bytes = address.GetAddressBytes();
            if (length <= bytes.Length * 8)
            {
                for (var bit = length; bit < bytes.Length * 8; bit++)
                {
                    bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
                }

                return new ApiError("InvalidCIDRNotation", $"The address prefix {text} in resource {resource} has an invalid CIDR notation. For the given prefix length, the address prefix should be {new IPAddress(bytes)}/{length}.", target);
            }
        }

        return new ApiError("InvalidAddressPrefixFormat", $"Address prefix {text} of resource {resource} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24.", target);
    }

    /// <summary>
    /// An IP address in its usual text form. <see cref="IPAddress.TryParse(string?, out IPAddress?)"/> also takes legacy
    /// IPv4 forms (<c>10.0.0</c>, <c>53</c>, octal <c>010.0.0.1</c>) that Azure refuses, so IPv4 must be canonical dotted decimal.
    /// </summary>
    internal static bool TryParseAddress(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address) =>
        IPAddress.TryParse(text, out address)
        && (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || string.Equals(address.ToString(), text, StringComparison.Ordinal));

    internal static bool Contains(IPNetwork outer, IPNetwork inner) =>
        outer.BaseAddress.AddressFamily == inner.BaseAddress.AddressFamily && outer.PrefixLength <= inner.PrefixLength && outer.Contains(inner.BaseAddress);

    internal static bool Overlaps(IPNetwork a, IPNetwork b) => Contains(a, b) || Contains(b, a);
}
