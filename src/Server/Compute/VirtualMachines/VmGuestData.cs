using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Ids;
using Holdfast.State;

namespace Holdfast.Server.Compute.VirtualMachines;

/// <summary>
/// What a VM's guest needs beyond its resource document, and what the guest printed. customData is a secret: never in
/// the resource (so never echoed) but kept at <see cref="SecretsKey"/> for the host that builds the VM; the agent's
/// last report of the serial console (at most <see cref="GuestSpec.MaxConsoleBytes"/>) is at <see cref="ConsoleKey"/>.
/// Both are removed with the VM. <see cref="BuildAsync"/> assembles a <see cref="GuestSpec"/> for the agent protocol.
/// </summary>
internal static class VmGuestData
{
    /// <summary>customData taken out of a request's properties by validation, until admission stores it (same request, same object).</summary>
    private static readonly ConditionalWeakTable<JsonObject, string> PendingCustomData = [];

    public static string SecretsKey(string instanceId) => "/capacity/vmguest/" + instanceId.ToLowerInvariant();

    public static string ConsoleKey(string instanceId) => "/capacity/vmconsole/" + instanceId.ToLowerInvariant();

    /// <summary>Validation: removes customData from the properties about to be stored, keeping it for <see cref="TakeCustomData"/>.</summary>
    public static void HoldCustomData(JsonObject properties, JsonObject osProfile)
    {
        if (osProfile["customData"] is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            PendingCustomData.AddOrUpdate(properties, value.GetValue<string>());
        }

        osProfile.Remove("customData");
    }

    /// <summary>Admission: the write that stores the customData this request carried, or null when it carried none.</summary>
    public static TxnOp? TakeCustomData(JsonObject properties)
    {
        if (properties["vmId"] is null || !PendingCustomData.TryGetValue(properties, out var customData))
        {
            return null;
        }

        var document = new JsonObject { ["customData"] = customData };
        return TxnOp.Put(SecretsKey(VirtualMachineHandler.InstanceIdOf(properties)), JsonSerializer.SerializeToUtf8Bytes(document));
    }

    /// <summary>The guest spec of the VM behind <paramref name="instance"/>, read from its resource, NIC and subnet; null without a resource.</summary>
    public static async Task<GuestSpec?> BuildAsync(IStateStore store, InstanceDocument instance, CancellationToken cancellationToken)
    {
        if (instance.ResourceId is null || !ResourceId.TryParse(instance.ResourceId, out var id, out _)
            || await ReadAsync(store, id, cancellationToken).ConfigureAwait(false) is not { } vm
            || vm["properties"] is not JsonObject properties)
        {
            return null;
        }

        var osProfile = properties["osProfile"] as JsonObject;
        string? customData = null;
        if (await store.GetAsync(SecretsKey(instance.Id), cancellationToken).ConfigureAwait(false) is { } secrets
            && JsonNode.Parse(secrets.Value.Span) is JsonObject secret)
        {
            customData = secret["customData"]?.GetValue<string>();
        }

        var storage = properties["storageProfile"] as JsonObject;
        var dataDisks = new List<GuestDataDisk>();
        foreach (var disk in (storage?["dataDisks"] as JsonArray)?.OfType<JsonObject>() ?? [])
        {
            var size = IntOf(disk["diskSizeGB"]);
            if (size is null && (disk["managedDisk"] as JsonObject)?["id"] is JsonValue managed && ResourceId.TryParse(managed.GetValue<string>(), out var diskId, out _)
                && await ReadAsync(store, diskId, cancellationToken).ConfigureAwait(false) is { } diskDocument)
            {
                size = IntOf((diskDocument["properties"] as JsonObject)?["diskSizeGB"]);
            }

            dataDisks.Add(new GuestDataDisk(IntOf(disk["lun"]) ?? dataDisks.Count, size ?? 1, disk["name"]?.GetValue<string>()));
        }

        var (ip, prefix) = await PrimaryAddressAsync(store, properties, cancellationToken).ConfigureAwait(false);
        return new GuestSpec
        {
            ComputerName = osProfile?["computerName"]?.GetValue<string>() ?? id.Name,
            AdminUsername = osProfile?["adminUsername"]?.GetValue<string>(),
            SshPublicKeys = [.. ((osProfile?["linuxConfiguration"] as JsonObject)?["ssh"]?["publicKeys"] as JsonArray)?.OfType<JsonObject>()
                .Select(k => k["keyData"]?.GetValue<string>()).OfType<string>() ?? []],
            CustomData = customData,
            Image = ImageOf(storage?["imageReference"] as JsonObject),
            OsDiskSizeGb = IntOf((storage?["osDisk"] as JsonObject)?["diskSizeGB"]),
            DataDisks = dataDisks,
            PrivateIpAddress = ip,
            SubnetPrefix = prefix,
        };
    }

    private static string? ImageOf(JsonObject? reference)
    {
        if (reference is null)
        {
            return null;
        }

        if (reference["id"] is JsonValue id && id.GetValueKind() == JsonValueKind.String)
        {
            return id.GetValue<string>();
        }

        string Part(string name) => reference[name] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : "";
        return $"{Part("publisher")}:{Part("offer")}:{Part("sku")}:{Part("version")}";
    }

    private static async Task<(string? Ip, string? Prefix)> PrimaryAddressAsync(IStateStore store, JsonObject properties, CancellationToken cancellationToken)
    {
        var nics = ((properties["networkProfile"] as JsonObject)?["networkInterfaces"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        var primary = nics.FirstOrDefault(n => (n["properties"] as JsonObject)?["primary"] is JsonValue p && p.GetValueKind() == JsonValueKind.True) ?? nics.FirstOrDefault();
        if (primary?["id"] is not JsonValue nicRef || !ResourceId.TryParse(nicRef.GetValue<string>(), out var nicId, out _)
            || await ReadAsync(store, nicId, cancellationToken).ConfigureAwait(false) is not { } nic)
        {
            return (null, null);
        }

        var configurations = ((nic["properties"] as JsonObject)?["ipConfigurations"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        var configuration = configurations.FirstOrDefault(c => (c["properties"] as JsonObject)?["primary"] is JsonValue p && p.GetValueKind() == JsonValueKind.True) ?? configurations.FirstOrDefault();
        var ipProperties = configuration?["properties"] as JsonObject;
        var ip = ipProperties?["privateIPAddress"] is JsonValue address && address.GetValueKind() == JsonValueKind.String ? address.GetValue<string>() : null;
        string? prefix = null;
        if ((ipProperties?["subnet"] as JsonObject)?["id"] is JsonValue subnetRef && ResourceId.TryParse(subnetRef.GetValue<string>(), out var subnetId, out _)
            && await ReadAsync(store, subnetId, cancellationToken).ConfigureAwait(false) is { } subnet
            && (subnet["properties"] as JsonObject)?["addressPrefix"] is JsonValue subnetPrefix && subnetPrefix.GetValueKind() == JsonValueKind.String)
        {
            prefix = subnetPrefix.GetValue<string>();
        }

        return (ip, prefix);
    }

    private static async Task<JsonObject?> ReadAsync(IStateStore store, ResourceId id, CancellationToken cancellationToken) =>
        await store.GetAsync(ResourceKeys.Resource(id), cancellationToken).ConfigureAwait(false) is { } kv ? ResourceDocument.Parse(kv.Value) : null;

    private static int? IntOf(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<int>(out var number) ? number : null;
}
