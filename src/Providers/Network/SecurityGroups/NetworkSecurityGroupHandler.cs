using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.State;

namespace Holdfast.Providers.Network.SecurityGroups;

/// <summary>
/// Microsoft.Network/networkSecurityGroups: security rules validated as Azure validates them (priority 100–4096 and
/// unique per direction, protocol, access, direction, port ranges, address prefixes, singular or plural forms but not
/// both) and Azure's six default rules added. Rules are stored and attached; enforcing them is the host driver's work
/// (issue 5 notes it), so provisioning is bookkeeping.
/// </summary>
internal sealed class NetworkSecurityGroupHandler(IStateStore? store = null) : ResourceTypeHandler, IResourceAdmission
{
    private const string RuleType = "Microsoft.Network/networkSecurityGroups/securityRules";
    private const string DefaultRuleType = "Microsoft.Network/networkSecurityGroups/defaultSecurityRules";
    private static readonly string[] Protocols = ["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"];
    private static readonly string[] Accesses = ["Allow", "Deny"];
    private static readonly string[] Directions = ["Inbound", "Outbound"];

    /// <summary>Azure's service tags that rules may name instead of a prefix.</summary>
    private static readonly string[] Tags = ["*", "VirtualNetwork", "AzureLoadBalancer", "Internet"];

    public override void Validate(ResourceValidationContext context)
    {
        var properties = context.Properties;
        properties["resourceGuid"] = context.ExistingProperties?["resourceGuid"]?.DeepClone() ?? Guid.NewGuid().ToString();
        properties["defaultSecurityRules"] = DefaultRules(context.Id.ToString());
        if (properties["securityRules"] is null)
        {
            properties["securityRules"] = new JsonArray();
            return;
        }

        if (properties["securityRules"] is not JsonArray rules)
        {
            context.AddError("InvalidRequestFormat", "properties.securityRules must be an array.", "properties.securityRules");
            return;
        }

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var priorities = new Dictionary<(string Direction, int Priority), string>();
        for (var i = 0; i < rules.Count; i++)
        {
            var target = $"properties.securityRules[{i}]";
            if (rules[i] is not JsonObject rule || rule["name"]?.GetValueKind() != JsonValueKind.String || rule["properties"] is not JsonObject ruleProperties)
            {
                context.AddError("InvalidRequestFormat", "Each security rule must be an object with a name and properties.", target);
                continue;
            }

            var name = rule["name"]!.GetValue<string>();
            if (Holdfast.Resources.Ids.NameRule.Default.Validate(name) is { } problem)
            {
                context.AddError("InvalidResourceName", $"Security rule name '{name}' is invalid. {problem}", target + ".name");
            }

            if (!names.Add(name))
            {
                context.AddError("DuplicateResourceName", $"The network security group has two security rules named '{name}'.", target + ".name");
            }

            var p = target + ".properties";
            var protocol = OneOf(context, ruleProperties, "protocol", Protocols, p);
            var access = OneOf(context, ruleProperties, "access", Accesses, p);
            var direction = OneOf(context, ruleProperties, "direction", Directions, p);
            if (ruleProperties["priority"] is not JsonValue priorityValue || !priorityValue.TryGetValue<int>(out var priority) || priority is < 100 or > 4096)
            {
                context.AddError("SecurityRuleInvalidPriority", $"Security rule has invalid Priority. Value provided: {ruleProperties["priority"]?.ToJsonString() ?? "null"} Allowed range 100-4096.", p + ".priority");
            }
            else if (direction is not null && !priorities.TryAdd((direction, priority), name))
            {
                context.AddError("SecurityRuleConflict", $"Security rule '{name}' conflicts with rule '{priorities[(direction, priority)]}'. Rules cannot have the same Priority and Direction.", p + ".priority");
            }

            RangeOrRanges(context, ruleProperties, "sourcePortRange", "sourcePortRanges", IsPortRange, InvalidPortRange, name, p);
            RangeOrRanges(context, ruleProperties, "destinationPortRange", "destinationPortRanges", IsPortRange, InvalidPortRange, name, p);
            RangeOrRanges(context, ruleProperties, "sourceAddressPrefix", "sourceAddressPrefixes", IsAddressPrefix, InvalidAddressPrefix, name, p);
            RangeOrRanges(context, ruleProperties, "destinationAddressPrefix", "destinationAddressPrefixes", IsAddressPrefix, InvalidAddressPrefix, name, p);
            if (protocol is not null && access is not null)
            {
                rule["id"] = $"{context.Id}/securityRules/{name}";
                rule["type"] = RuleType;
                ruleProperties["provisioningState"] = ProvisioningStates.Succeeded;
            }
        }
    }

    private static string? OneOf(ResourceValidationContext context, JsonObject properties, string name, string[] allowed, string target)
    {
        var node = properties[name];
        var value = node?.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : null;
        var canonical = value is null ? null : allowed.FirstOrDefault(a => a.Equals(value, StringComparison.OrdinalIgnoreCase));
        if (canonical is null)
        {
            context.AddError("InvalidRequestFormat", $"The value of '{name}' must be one of {string.Join(", ", allowed)}; got {node?.ToJsonString() ?? "nothing"}.", target + "." + name);
            return null;
        }

        properties[name] = canonical;
        return canonical;
    }

    /// <summary>Azure takes a rule's range either singular (<c>destinationPortRange</c>) or plural, never both, and needs one.</summary>
    private static void RangeOrRanges(ResourceValidationContext context, JsonObject properties, string single, string plural, Func<string, bool> isValid, Func<string, (string Code, string Message)> invalid, string rule, string target)
    {
        var one = properties[single];
        var many = properties[plural] as JsonArray;
        var hasOne = one is not null && one.GetValueKind() != JsonValueKind.Null;
        var hasMany = many is { Count: > 0 };
        if (hasOne == hasMany)
        {
            context.AddError("InvalidRequestFormat", $"Security rule '{rule}' must give exactly one of '{single}' or '{plural}'.", target + "." + single);
            return;
        }

        var values = hasOne ? [one] : many!.ToArray();
        foreach (var value in values)
        {
            if (value?.GetValueKind() != JsonValueKind.String || !isValid(value.GetValue<string>()))
            {
                var (code, message) = invalid(value?.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value?.ToJsonString() ?? "null");
                context.AddError(code, message, target + "." + (hasOne ? single : plural));
            }
        }

        properties[plural] ??= new JsonArray();
    }

    // Azure's refusals of a rule's port range and address prefix.
    private static (string Code, string Message) InvalidPortRange(string value) =>
        ("SecurityRuleInvalidPortRange", $"Security rule has invalid Port range. Value provided: {value}. Value should be an integer OR integer range with '-' delimiter. Valid range 0-65535.");

    private static (string Code, string Message) InvalidAddressPrefix(string value) =>
        ("SecurityRuleInvalidAddressPrefix", $"Security rule has invalid Address prefix. Value provided: {value}.");

    /// <summary><c>*</c>, a port, or <c>low-high</c> within 0–65535.</summary>
    internal static bool IsPortRange(string text)
    {
        if (text == "*")
        {
            return true;
        }

        var dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return IsPort(text, out _);
        }

        return IsPort(text[..dash], out var low) && IsPort(text[(dash + 1)..], out var high) && low <= high;
    }

    /// <summary>A service tag, an IP address or a CIDR.</summary>
    internal static bool IsAddressPrefix(string text) =>
        Tags.Contains(text, StringComparer.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(text, out var address) && (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || address.ToString() == text))
        || (text.Contains('/', StringComparison.Ordinal) && System.Net.IPNetwork.TryParse(text, out _));

    private static bool IsPort(string text, out int port) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port) && port is >= 0 and <= 65535;

    /// <summary>Azure's six default rules, the same in every group: allow within the virtual network and from the load balancer, allow out to the Internet, deny the rest.</summary>
    private static JsonArray DefaultRules(string groupId)
    {
        return
        [
            Rule("AllowVnetInBound", "Allow inbound traffic from all VMs in VNET", "VirtualNetwork", "VirtualNetwork", "Allow", 65000, "Inbound"),
            Rule("AllowAzureLoadBalancerInBound", "Allow inbound traffic from azure load balancer", "AzureLoadBalancer", "*", "Allow", 65001, "Inbound"),
            Rule("DenyAllInBound", "Deny all inbound traffic", "*", "*", "Deny", 65500, "Inbound"),
            Rule("AllowVnetOutBound", "Allow outbound traffic from all VMs to all VMs in VNET", "VirtualNetwork", "VirtualNetwork", "Allow", 65000, "Outbound"),
            Rule("AllowInternetOutBound", "Allow outbound traffic from all VMs to Internet", "*", "Internet", "Allow", 65001, "Outbound"),
            Rule("DenyAllOutBound", "Deny all outbound traffic", "*", "*", "Deny", 65500, "Outbound"),
        ];

        JsonObject Rule(string name, string description, string source, string destination, string access, int priority, string direction) => new()
        {
            ["name"] = name,
            ["id"] = $"{groupId}/defaultSecurityRules/{name}",
            ["type"] = DefaultRuleType,
            ["properties"] = new JsonObject
            {
                ["provisioningState"] = ProvisioningStates.Succeeded,
                ["description"] = description,
                ["protocol"] = "*",
                ["sourcePortRange"] = "*",
                ["destinationPortRange"] = "*",
                ["sourceAddressPrefix"] = source,
                ["destinationAddressPrefix"] = destination,
                ["access"] = access,
                ["priority"] = priority,
                ["direction"] = direction,
                ["sourcePortRanges"] = new JsonArray(),
                ["destinationPortRanges"] = new JsonArray(),
                ["sourceAddressPrefixes"] = new JsonArray(),
                ["destinationAddressPrefixes"] = new JsonArray(),
            },
        };
    }

    /// <summary>A group that a subnet or NIC still names cannot be deleted (Azure's <c>InUseNetworkSecurityGroupCannotBeDeleted</c>).</summary>
    public async ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Kind == AdmissionKind.Delete)
        {
            var referrers = await NetworkReferences.ReferrersAsync(context.Store, context.Id, cancellationToken).ConfigureAwait(false);
            if (referrers.Count > 0)
            {
                throw InUse(context.Id, referrers.Select(r => r.Referrer));
            }
        }

        return Admission.None;
    }

    /// <summary>
    /// Marked deleting, the group can no longer be named (a referrer's write compares its revision); referrers still on
    /// their way out are waited for, a live one (named just before the mark) fails the delete.
    /// </summary>
    public override async ValueTask<ProvisionOutcome> DeprovisionAsync(ResourceReconcileContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (store is null)
        {
            return ProvisionOutcome.Succeeded;
        }

        var referrers = await NetworkReferences.ReferrersAsync(store, context.Id, cancellationToken).ConfigureAwait(false);
        if (referrers.Any(r => r.Live))
        {
            var error = InUse(context.Id, referrers.Where(r => r.Live).Select(r => r.Referrer));
            return ProvisionOutcome.Failed(error.Code, error.Message);
        }

        return referrers.Count > 0 ? ProvisionOutcome.NotYet(TimeSpan.FromSeconds(1)) : ProvisionOutcome.Succeeded;
    }

    public ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ValueTask.FromResult(new Admission([], [TxnOp.DeletePrefix(NetworkKeys.ReferencesTo(context.Id))]));
    }

    private static ApiException InUse(ResourceId id, IEnumerable<string> referrers) =>
        new(System.Net.HttpStatusCode.BadRequest, "InUseNetworkSecurityGroupCannotBeDeleted", $"Network security group {id} cannot be deleted because it is in use by the following resources: {string.Join(", ", referrers)}. In order to delete the Network security group, remove the association with the resource(s). To learn how to do this, see aka.ms/deletensg.");
}
