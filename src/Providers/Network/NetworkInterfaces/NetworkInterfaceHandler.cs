using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Network.Addressing;
using Holdfast.Providers.Network.VirtualNetworks;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.State;

namespace Holdfast.Providers.Network.NetworkInterfaces;

/// <summary>
/// Microsoft.Network/networkInterfaces. Validation checks and defaults the IP configurations as Azure does; admission
/// gives each one a private address from its subnet in the NIC's own transaction — one store key per address, created
/// with a compare that it is absent, so no two NICs ever hold the same one — and releases addresses an update drops.
/// Dynamic takes the lowest free address; Static must be inside the subnet, outside Azure's reserved addresses and free.
/// A NIC attached to a virtual machine (<c>properties.virtualMachine</c>, written only by compute through
/// <see cref="NetworkInterfaceReferences"/>) cannot be deleted; a deleted NIC's addresses are released in the reconcile
/// transaction that removes it.
/// </summary>
internal sealed class NetworkInterfaceHandler(TimeProvider timeProvider) : ResourceTypeHandler, IResourceAdmission
{
    public const string Type = "Microsoft.Network/networkInterfaces";
    public const string IpConfigurationType = "Microsoft.Network/networkInterfaces/ipConfigurations";

    /// <summary>How long a write waits for other in-flight writes' addresses before racing them for one.</summary>
    private static readonly TimeSpan HoldWait = TimeSpan.FromSeconds(5);

    private readonly AddressHolds _holds = new(timeProvider);

    /// <summary>Properties only the platform writes; a client's values are ignored, the stored ones kept.</summary>
    private static readonly string[] ReadOnlyProperties = ["virtualMachine", "macAddress", "primary", "resourceGuid"];

    public override void Validate(ResourceValidationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var properties = context.Properties;
        foreach (var name in ReadOnlyProperties)
        {
            properties.Remove(name);
            if (context.ExistingProperties?[name] is { } kept)
            {
                properties[name] = kept.DeepClone();
            }
        }

        properties["resourceGuid"] ??= Guid.NewGuid().ToString();
        ValidateIpConfigurations(context);
        if (properties["networkSecurityGroup"] is { } nsg)
        {
            NetworkReferences.ParseReference(nsg, "Microsoft.Network/networkSecurityGroups", "properties.networkSecurityGroup", context.AddError);
        }

        ValidateFlag(context, "enableAcceleratedNetworking");
        ValidateFlag(context, "enableIPForwarding");
        ValidateFlag(context, "disableTcpStateTracking");
        if (properties["dnsSettings"] is null)
        {
            properties["dnsSettings"] = new JsonObject { ["dnsServers"] = new JsonArray(), ["appliedDnsServers"] = new JsonArray() };
        }
        else if (properties["dnsSettings"] is JsonObject dns)
        {
            dns["dnsServers"] ??= new JsonArray();
            dns["appliedDnsServers"] ??= new JsonArray();
        }
        else
        {
            context.AddError(ArmErrorCodes.InvalidRequestFormat, "properties.dnsSettings must be an object.", "properties.dnsSettings");
        }

        properties["nicType"] ??= "Standard";
        properties["hostedWorkloads"] ??= new JsonArray();
        properties["tapConfigurations"] ??= new JsonArray();
        properties["vnetEncryptionSupported"] ??= false;
    }

    private static void ValidateFlag(ResourceValidationContext context, string name)
    {
        var node = context.Properties[name];
        if (node is null)
        {
            context.Properties[name] = false;
        }
        else if (node.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
        {
            context.AddError(ArmErrorCodes.InvalidRequestFormat, $"properties.{name} must be true or false.", "properties." + name);
        }
    }

    private static void ValidateIpConfigurations(ResourceValidationContext context)
    {
        if (context.Properties["ipConfigurations"] is not JsonArray configurations || configurations.Count == 0)
        {
            context.AddError("InvalidIPConfigCount", $"Network interface {context.Id.Name} must have one or more IP configurations.", "properties.ipConfigurations");
            return;
        }

        var existing = (context.ExistingProperties?["ipConfigurations"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var primaries = 0;
        for (var i = 0; i < configurations.Count; i++)
        {
            var target = $"properties.ipConfigurations[{i}]";
            if (configurations[i] is not JsonObject configuration || configuration["name"] is not JsonValue nameValue || !nameValue.TryGetValue<string>(out var name))
            {
                context.AddError(ArmErrorCodes.InvalidRequestFormat, "Each IP configuration must be an object with a name.", target);
                continue;
            }

            if (NameRule.Default.Validate(name) is { } problem)
            {
                context.AddError(ArmErrorCodes.InvalidResourceName, $"IP configuration name '{name}' is invalid. {problem}", target + ".name");
            }

            if (!names.Add(name))
            {
                context.AddError("DuplicateResourceName", $"The network interface has two IP configurations named '{name}'.", target + ".name");
            }

            if (configuration["properties"] is not JsonObject properties)
            {
                context.AddError(ArmErrorCodes.InvalidRequestFormat, $"IP configuration '{name}' needs properties with a subnet.", target + ".properties");
                continue;
            }

            var subnetId = NetworkReferences.ParseReference(properties["subnet"], Subnets.Type, target + ".properties.subnet", context.AddError);
            var method = properties["privateIPAllocationMethod"] is JsonValue m && m.TryGetValue<string>(out var text) ? text : properties["privateIPAllocationMethod"] is null ? "Dynamic" : null;
            if (string.Equals(method, "Dynamic", StringComparison.OrdinalIgnoreCase))
            {
                properties["privateIPAllocationMethod"] = "Dynamic";
                properties.Remove("privateIPAddress");
                // An update keeps the address the configuration already has in the same subnet.
                var before = existing.FirstOrDefault(e => string.Equals(e["name"]?.GetValue<string>(), name, StringComparison.OrdinalIgnoreCase))?["properties"] as JsonObject;
                if (before?["privateIPAddress"] is { } address && subnetId is not null
                    && string.Equals(NetworkReferences.IdOf(before["subnet"]), subnetId.ToString(), StringComparison.OrdinalIgnoreCase))
                {
                    properties["privateIPAddress"] = address.DeepClone();
                }
            }
            else if (string.Equals(method, "Static", StringComparison.OrdinalIgnoreCase))
            {
                properties["privateIPAllocationMethod"] = "Static";
                var address = properties["privateIPAddress"] is JsonValue a && a.TryGetValue<string>(out var s) ? s : null;
                if (address is null)
                {
                    context.AddError("PrivateIPAddressMissing", $"Private IP address is required when privateIPAllocationMethod is Static in IP configuration {context.Id}/ipConfigurations/{name}.", target + ".properties.privateIPAddress");
                }
                else if (!Ipv4Prefix.TryParseAddress(address, out _))
                {
                    context.AddError("InvalidPrivateIPAddressFormat", $"Private IP address '{address}' of IP configuration '{name}' is not a valid IPv4 address.", target + ".properties.privateIPAddress");
                }
            }
            else
            {
                context.AddError(ArmErrorCodes.InvalidRequestFormat, $"privateIPAllocationMethod of IP configuration '{name}' must be 'Dynamic' or 'Static'.", target + ".properties.privateIPAllocationMethod");
            }

            var version = properties["privateIPAddressVersion"] is JsonValue v && v.TryGetValue<string>(out var vs) ? vs : properties["privateIPAddressVersion"] is null ? "IPv4" : null;
            if (!string.Equals(version, "IPv4", StringComparison.OrdinalIgnoreCase))
            {
                context.AddError(ArmErrorCodes.InvalidParameter, $"IP configuration '{name}': only privateIPAddressVersion 'IPv4' is supported.", target + ".properties.privateIPAddressVersion");
            }

            properties["privateIPAddressVersion"] = "IPv4";
            if (properties["primary"] is { } primary && primary.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
            {
                context.AddError(ArmErrorCodes.InvalidRequestFormat, $"properties.primary of IP configuration '{name}' must be true or false.", target + ".properties.primary");
            }
            else if (properties["primary"]?.GetValue<bool>() == true)
            {
                primaries++;
            }

            configuration["id"] = context.Id + "/ipConfigurations/" + name;
            configuration["type"] = IpConfigurationType;
            properties["provisioningState"] = ProvisioningStates.Succeeded;
        }

        if (primaries > 1)
        {
            context.AddError("OnlyOnePrimaryIpConfigurationAllowed", $"Network interface {context.Id} has more than one primary IP configuration.", "properties.ipConfigurations");
        }
        else if (primaries == 0 && configurations.Count > 1)
        {
            // Azure's code, spelling included.
            context.AddError("NetworkInterfaceMustHaveOneOneIPConfigAsPrimary", $"Network Interface {context.Id.Name} specifies multiple IPConfigurations but none of the IPConfigurations is specified as Primary.", "properties.ipConfigurations");
        }
        else if (primaries == 0 && configurations[0] is JsonObject first && first["properties"] is JsonObject only)
        {
            only["primary"] = true;
        }

        foreach (var configuration in configurations.OfType<JsonObject>())
        {
            if (configuration["properties"] is JsonObject p)
            {
                p["primary"] ??= false;
            }
        }
    }

    public async ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Kind == AdmissionKind.Delete)
        {
            if (NetworkReferences.IdOf(context.Properties["virtualMachine"]) is { } vm)
            {
                throw NetworkInterfaceReferences.InUse(context.Id, vm);
            }

            return Admission.None;
        }

        var store = context.Store;
        var compares = new List<Compare>();
        var ops = new List<TxnOp>();
        if (context.Properties["networkSecurityGroup"] is { } nsgReference)
        {
            var nsg = NetworkReferences.ParseReference(nsgReference, "Microsoft.Network/networkSecurityGroups", "properties.networkSecurityGroup", (c, m, t) => throw new ApiException(HttpStatusCode.BadRequest, c, m, t))!;
            var nsgStored = await NetworkReferences.RequireAsync(store, nsg, context.Id, cancellationToken).ConfigureAwait(false);
            compares.Add(Compare.ModRevisionIs(nsgStored.Key, nsgStored.ModRevision));
        }

        var configurations = (context.Properties["ipConfigurations"] as JsonArray)!.OfType<JsonObject>().ToList();
        var subnets = new Dictionary<string, (ResourceId Id, Ipv4Prefix Range)>(StringComparer.OrdinalIgnoreCase);
        ResourceId? vnet = null;
        foreach (var configuration in configurations)
        {
            var subnetId = ResourceId.Parse(NetworkReferences.IdOf(configuration["properties"]!["subnet"])!);
            if (vnet is not null && !vnet.Equals(subnetId.Parent))
            {
                throw new ApiException(HttpStatusCode.BadRequest, "IpConfigurationsOnSameNicCannotUseDifferentVnets", $"IP configurations of network interface {context.Id} reference subnets of different virtual networks ({vnet} and {subnetId.Parent}).");
            }

            vnet = subnetId.Parent;
            if (subnets.ContainsKey(subnetId.ToString()))
            {
                continue;
            }

            var subnetStored = await NetworkReferences.RequireAsync(store, subnetId, context.Id, cancellationToken).ConfigureAwait(false);
            compares.Add(Compare.ModRevisionIs(subnetStored.Key, subnetStored.ModRevision));
            var prefix = Subnets.AddressPrefix(ResourceDocument.Parse(subnetStored.Value)["properties"] as JsonObject);
            if (!Ipv4Prefix.TryParse(prefix, out var range))
            {
                throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, $"Subnet {subnetId.Name} has no IPv4 address prefix to take a private IPv4 address from.");
            }

            subnets[subnetId.ToString()] = (subnetId, range);
        }

        var used = new HashSet<string>(StringComparer.Ordinal);
        var nicOwnerPrefix = context.Id + "/ipConfigurations/";
        var taken = new Dictionary<string, IReadOnlyList<(uint Address, string Key, string Owner, long ModRevision)>>(StringComparer.OrdinalIgnoreCase);
        async ValueTask<IReadOnlyList<(uint Address, string Key, string Owner, long ModRevision)>> TakenAsync(ResourceId subnet)
        {
            if (!taken.TryGetValue(subnet.ToString(), out var list))
            {
                list = await Subnets.TakenAsync(store, subnet, cancellationToken).ConfigureAwait(false);
                taken[subnet.ToString()] = list;
                _holds.Forget(list.Select(t => t.Key));
            }

            return list;
        }

        // Static addresses first, so a dynamic one never takes an address another configuration asks for.
        foreach (var configuration in configurations.OrderBy(c => string.Equals(c["properties"]!["privateIPAllocationMethod"]!.GetValue<string>(), "Static", StringComparison.Ordinal) ? 0 : 1))
        {
            var properties = configuration["properties"]!.AsObject();
            var owner = configuration["id"]!.GetValue<string>();
            var (subnetId, range) = subnets[ResourceId.Parse(NetworkReferences.IdOf(properties["subnet"])!).ToString()];
            var isStatic = string.Equals(properties["privateIPAllocationMethod"]!.GetValue<string>(), "Static", StringComparison.Ordinal);
            var requested = properties["privateIPAddress"]?.GetValue<string>();
            var list = await TakenAsync(subnetId).ConfigureAwait(false);
            if (requested is not null && Ipv4Prefix.TryParseAddress(requested, out var address))
            {
                if (!range.Contains(address))
                {
                    if (isStatic)
                    {
                        throw new ApiException(HttpStatusCode.BadRequest, "PrivateIPAddressNotInSubnet", $"Private static IP address {requested} does not belong to the range of subnet prefix {range}.");
                    }
                }
                else if (range.IsReserved(address))
                {
                    if (isStatic)
                    {
                        throw new ApiException(HttpStatusCode.BadRequest, "PrivateIPAddressInReservedRange", $"Private static IP address {requested} falls within reserved IP range of subnet prefix {range}.");
                    }
                }
                else
                {
                    var key = NetworkKeys.Address(subnetId, requested);
                    if (!used.Add(key))
                    {
                        throw new ApiException(HttpStatusCode.BadRequest, "PrivateIPAddressIsAllocated", $"IP configuration {owner} is using the private IP address {requested} which is already allocated to resource {context.Id}.");
                    }

                    var holder = list.FirstOrDefault(t => t.Address == address);
                    if (holder.Key is null)
                    {
                        compares.Add(Compare.Absent(key));
                        ops.Add(TxnOp.Put(key, Encoding.UTF8.GetBytes(owner)));
                        continue;
                    }

                    if (holder.Owner.StartsWith(nicOwnerPrefix, StringComparison.OrdinalIgnoreCase))
                    {
                        compares.Add(Compare.ModRevisionIs(key, holder.ModRevision));
                        if (!string.Equals(holder.Owner, owner, StringComparison.Ordinal))
                        {
                            ops.Add(TxnOp.Put(key, Encoding.UTF8.GetBytes(owner)));
                        }

                        continue;
                    }

                    if (isStatic)
                    {
                        var other = holder.Owner[..Math.Max(0, holder.Owner.LastIndexOf("/ipConfigurations/", StringComparison.OrdinalIgnoreCase))];
                        throw new ApiException(HttpStatusCode.BadRequest, "PrivateIPAddressIsAllocated", $"IP configuration {owner} is using the private IP address {requested} which is already allocated to resource {other}.");
                    }
                }
            }

            var allocated = await AllocateAsync(store, subnetId, range, used, owner, cancellationToken).ConfigureAwait(false);
            var allocatedKey = NetworkKeys.Address(subnetId, Ipv4Prefix.Format(allocated));
            used.Add(allocatedKey);
            compares.Add(Compare.Absent(allocatedKey));
            ops.Add(TxnOp.Put(allocatedKey, Encoding.UTF8.GetBytes(owner)));
            properties["privateIPAddress"] = Ipv4Prefix.Format(allocated);
        }

        NetworkReferences.Track(context.Id, NetworkReferences.IdOf((context.Previous?["properties"] as JsonObject)?["networkSecurityGroup"]), NetworkReferences.IdOf(context.Properties["networkSecurityGroup"]), ops);

        // Addresses an update no longer uses go back to their subnets in the same transaction.
        foreach (var key in AddressKeys(context.Previous))
        {
            if (!used.Contains(key) && await store.GetAsync(key, cancellationToken).ConfigureAwait(false) is { } held
                && Encoding.UTF8.GetString(held.Value.Span).StartsWith(nicOwnerPrefix, StringComparison.OrdinalIgnoreCase))
            {
                compares.Add(Compare.ModRevisionIs(key, held.ModRevision));
                ops.Add(TxnOp.Delete(key));
                _holds.Forget([key]);
            }
        }

        return new Admission(compares, ops);
    }

    public async ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var compares = new List<Compare>();
        var ops = new List<TxnOp>();
        var nicOwnerPrefix = context.Id + "/ipConfigurations/";
        NetworkReferences.Track(context.Id, NetworkReferences.IdOf((context.Resource["properties"] as JsonObject)?["networkSecurityGroup"]), null, ops);
        foreach (var key in AddressKeys(context.Resource))
        {
            if (await context.Store.GetAsync(key, cancellationToken).ConfigureAwait(false) is { } held
                && Encoding.UTF8.GetString(held.Value.Span).StartsWith(nicOwnerPrefix, StringComparison.OrdinalIgnoreCase))
            {
                compares.Add(Compare.ModRevisionIs(key, held.ModRevision));
                ops.Add(TxnOp.Delete(key));
                _holds.Forget([key]);
            }
        }

        return new Admission(compares, ops);
    }

    /// <summary>The address keys a stored NIC document names.</summary>
    internal static IEnumerable<string> AddressKeys(JsonObject? nic)
    {
        if ((nic?["properties"] as JsonObject)?["ipConfigurations"] is not JsonArray configurations)
        {
            yield break;
        }

        foreach (var properties in configurations.OfType<JsonObject>().Select(c => c["properties"] as JsonObject))
        {
            if (properties?["privateIPAddress"] is JsonValue a && a.TryGetValue<string>(out var address)
                && NetworkReferences.IdOf(properties["subnet"]) is { } subnet && ResourceId.TryParse(subnet, out var subnetId, out _))
            {
                yield return NetworkKeys.Address(subnetId, address);
            }
        }
    }

    /// <summary>
    /// The lowest free usable address of the subnet that no other in-flight write of this process holds. When every
    /// free address is held, it waits briefly for those writes to commit, then races for the lowest (the compare decides).
    /// </summary>
    private async ValueTask<uint> AllocateAsync(IStateStore store, ResourceId subnetId, Ipv4Prefix range, HashSet<string> used, string owner, CancellationToken cancellationToken)
    {
        var deadline = timeProvider.GetUtcNow() + HoldWait;
        while (true)
        {
            var taken = await Subnets.TakenAsync(store, subnetId, cancellationToken).ConfigureAwait(false);
            _holds.Forget(taken.Select(t => t.Key));
            var prefix = NetworkKeys.AddressesOf(subnetId);
            var excluded = taken.Select(t => t.Address).ToHashSet();
            foreach (var key in used)
            {
                if (key.StartsWith(prefix, StringComparison.Ordinal) && Ipv4Prefix.TryParseAddress(key[prefix.Length..], out var mine))
                {
                    excluded.Add(mine);
                }
            }

            var free = range.Usable().Where(a => !excluded.Contains(a));
            var lowest = free.Select(a => (uint?)a).FirstOrDefault();
            if (lowest is null)
            {
                throw new ApiException(HttpStatusCode.BadRequest, "SubnetIsFull", $"Subnet {subnetId.Name} with address prefix {range} does not have enough capacity for 1 IP addresses.");
            }

            var held = _holds.HoldFirst(free.Select(a => prefix + Ipv4Prefix.Format(a)), owner);
            if (held is not null && Ipv4Prefix.TryParseAddress(held[prefix.Length..], out var address))
            {
                return address;
            }

            if (timeProvider.GetUtcNow() >= deadline)
            {
                return lowest.Value;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }
}
