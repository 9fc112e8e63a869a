using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Network;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.State;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace Holdfast.Providers.Tests.Network;

/// <summary>
/// The Network provider over an in-memory store, written as the server's writer writes (validate, admit, one
/// transaction with the admission's compares and ops) and reconciled by the real <see cref="ResourceReconciler"/>.
/// </summary>
internal sealed class NetworkWorld
{
    public const string Group = "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/";

    private readonly ResourceProviderDefinition _provider;
    private readonly ResourceReconciler _reconciler;

    public NetworkWorld()
    {
        _provider = NetworkProvider.Create(Store, TimeProvider.System);
        _reconciler = new ResourceReconciler(Store, new ProviderRegistry([_provider]), TimeProvider.System, NullLogger<ResourceReconciler>.Instance);
    }

    public InMemoryStateStore Store { get; } = new(TimeProvider.System);

    public static ResourceId Id(string path) => ResourceId.Parse(Group + path);

    public static ResourceId Subnet(string vnet, string subnet) => Id($"virtualNetworks/{vnet}/subnets/{subnet}");

    public static ResourceId Nic(string name) => Id("networkInterfaces/" + name);

    public static string NicBody(string vnet, string subnet, string? staticAddress = null) => staticAddress is null
        ? "{\"ipConfigurations\":[{\"name\":\"ipconfig1\",\"properties\":{\"subnet\":{\"id\":\"" + Subnet(vnet, subnet) + "\"}}}]}"
        : $$$"""{"ipConfigurations":[{"name":"ipconfig1","properties":{"subnet":{"id":"{{{Subnet(vnet, subnet)}}}"},"privateIPAllocationMethod":"Static","privateIPAddress":"{{{staticAddress}}}"}}]}""";

    public IResourceTypeHandler Handler(ResourceId id) => _provider.ResourceTypes.Single(t => string.Equals(t.FullType, id.ResourceType, StringComparison.OrdinalIgnoreCase)).Handler;

    /// <summary>One write attempt as ResourceWriter makes it; false when a compare failed. Throws what validation or admission throws.</summary>
    public async Task<bool> TryPutAsync(ResourceId id, string propertiesJson)
    {
        var key = ResourceKeys.Resource(id);
        var existing = await Store.GetAsync(key, CancellationToken.None);
        var previous = existing is null ? null : ResourceDocument.Parse(existing.Value);
        var properties = JsonNode.Parse(propertiesJson)!.AsObject();
        var validation = new ResourceValidationContext(id, properties, previous?["properties"] as JsonObject);
        var handler = Handler(id);
        handler.Validate(validation);
        if (validation.Errors.Count > 0)
        {
            throw ApiException.FromValidation(validation.Errors);
        }

        properties["provisioningState"] = previous is null ? ProvisioningStates.Creating : ProvisioningStates.Updating;
        var resource = new JsonObject { ["id"] = id.ToString(), ["name"] = id.Name, ["type"] = id.ResourceType, ["properties"] = properties };
        var admission = handler is IResourceAdmission admitter
            ? await admitter.AdmitAsync(new ResourceAdmissionContext(id, previous is null ? AdmissionKind.Create : AdmissionKind.Update, resource, previous, Store), CancellationToken.None)
            : Admission.None;
        var compares = new List<Compare> { existing is null ? Compare.Absent(key) : Compare.ModRevisionIs(key, existing.ModRevision) };
        compares.AddRange(admission.Compares);
        var result = await Store.TxnAsync(new TxnRequest(compares, [TxnOp.Put(key, ResourceDocument.Serialize(resource)), .. admission.Ops]), CancellationToken.None);
        return result.Succeeded;
    }

    /// <summary>A PUT (retried on a failed compare, as the writer does) and its reconcile; returns the stored document.</summary>
    public async Task<JsonObject> PutAsync(ResourceId id, string propertiesJson)
    {
        for (var attempt = 0; !await TryPutAsync(id, propertiesJson); attempt++)
        {
            Assert.True(attempt < 4, "The write kept failing its compares.");
        }

        await ReconcileAsync(id);
        return (await GetAsync(id))!;
    }

    /// <summary>A DELETE as the writer commits it (admission, then marked Deleting), then its reconcile.</summary>
    public async Task DeleteAsync(ResourceId id)
    {
        var key = ResourceKeys.Resource(id);
        var existing = await Store.GetAsync(key, CancellationToken.None) ?? throw new InvalidOperationException($"{id} does not exist.");
        var resource = ResourceDocument.Parse(existing.Value);
        ResourceDocument.SetProvisioningState(resource, ProvisioningStates.Deleting);
        var admission = Handler(id) is IResourceAdmission admitter
            ? await admitter.AdmitAsync(new ResourceAdmissionContext(id, AdmissionKind.Delete, resource, ResourceDocument.Parse(existing.Value), Store), CancellationToken.None)
            : Admission.None;
        var result = await Store.TxnAsync(new TxnRequest([Compare.ModRevisionIs(key, existing.ModRevision), .. admission.Compares], [TxnOp.Put(key, ResourceDocument.Serialize(resource)), .. admission.Ops]), CancellationToken.None);
        Assert.True(result.Succeeded);
        await ReconcileAsync(id);
    }

    /// <summary>Reconciles until the reconciler is done with the key (bounded); returns the last result's requeue.</summary>
    public async Task<TimeSpan?> ReconcileAsync(ResourceId id)
    {
        var key = ResourceKeys.Resource(id);
        for (var i = 0; i < 10; i++)
        {
            var result = await _reconciler.ReconcileAsync(key, CancellationToken.None);
            if (result.RequeueAfter is not { } after || after > TimeSpan.Zero)
            {
                return result.RequeueAfter;
            }
        }

        throw new InvalidOperationException($"{id} kept requeueing at once.");
    }

    public async Task ReconcileAllAsync(string prefix)
    {
        foreach (var kv in (await Store.RangeAsync(new RangeRequest(prefix), CancellationToken.None)).Items)
        {
            await _reconciler.ReconcileAsync(kv.Key, CancellationToken.None);
        }
    }

    public async Task<JsonObject?> GetAsync(ResourceId id)
    {
        var kv = await Store.GetAsync(ResourceKeys.Resource(id), CancellationToken.None);
        return kv is null ? null : ResourceDocument.Parse(kv.Value);
    }

    /// <summary>The ipam keys of a subnet: address → owner.</summary>
    public async Task<Dictionary<string, string>> AddressesAsync(ResourceId subnetId)
    {
        var prefix = NetworkKeys.AddressesOf(subnetId);
        var range = await Store.RangeAsync(new RangeRequest(prefix), CancellationToken.None);
        return range.Items.ToDictionary(kv => kv.Key[prefix.Length..], kv => Encoding.UTF8.GetString(kv.Value.Span));
    }

    public static string AddressOf(JsonObject nic, int configuration = 0) =>
        nic["properties"]!["ipConfigurations"]![configuration]!["properties"]!["privateIPAddress"]!.GetValue<string>();

    public static string? State(JsonObject? resource) => resource is null ? null : ResourceDocument.GetProvisioningState(resource);

    /// <summary>Closes the store (the test class's <c>DisposeAsync</c> calls it).</summary>
    public ValueTask CloseAsync() => Store.DisposeAsync();
}
