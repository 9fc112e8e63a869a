using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Capacity.Catalog;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Server.Arm;
using Holdfast.Server.Authorization;
using Holdfast.Server.Compute.Quotas;
using Holdfast.Server.Compute.VirtualMachines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Compute;

/// <summary>
/// Microsoft.Compute's non-resource reads, in Azure's shapes: the location's <c>usages</c> (quota limits and current
/// values: <c>cores</c>, <c>virtualMachines</c> and every VM family), <c>vmSizes</c> (the catalog's sizes some in-service
/// host could hold), <c>skus</c> (<see cref="ResourceSkus"/>) and a VM's <c>instanceView</c>. Each authorizes its own
/// action before reading anything.
/// </summary>
internal static class ComputeEndpoints
{
    private const string Locations = "/subscriptions/{subscriptionId}/providers/Microsoft.Compute/locations/{location}";

    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: ComputeProvider.ApiVersions);
        routes.MapGet(Locations + "/usages", UsagesAsync).WithMetadata(metadata);
        routes.MapGet(Locations + "/vmSizes", VmSizesAsync).WithMetadata(metadata);
        routes.MapGet("/subscriptions/{subscriptionId}/providers/Microsoft.Compute/skus", ResourceSkus.ListAsync).WithMetadata(new ArmEndpointMetadata(ApiVersions: ResourceSkus.ApiVersions));
        routes.MapGet("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}/instanceView", InstanceViewAsync).WithMetadata(metadata);
        Images.ImageEndpoints.Map(routes);
        BootDiagnosticsEndpoints.Map(routes);
    }

    private static async Task UsagesAsync(HttpContext context, string subscriptionId, string location)
    {
        var (data, subscription) = await AuthorizeAsync(context, subscriptionId, "Microsoft.Compute/locations/usages/read").ConfigureAwait(false);
        CheckLocation(data, location);
        var ledger = new QuotaLedger(data.Store);
        var (limits, _) = await ledger.ReadLimitsAsync(subscription, context.RequestAborted).ConfigureAwait(false);
        var (usage, _) = await ledger.ReadUsageAsync(subscription, context.RequestAborted).ConfigureAwait(false);
        var value = new JsonArray
        {
            Usage("cores", "Total Regional vCPUs", usage.VCpus, limits.EffectiveTotalRegionalVCpus),
            Usage("virtualMachines", "Virtual Machines", usage.VirtualMachines, limits.EffectiveVirtualMachines),
        };
        foreach (var family in VmSizeCatalog.Families)
        {
            value.Add(Usage(family.Name, family.LocalizedName, usage.FamilyVCpus(family.Name), limits.FamilyLimit(family.Name)));
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = value }).ConfigureAwait(false);
    }

    private static async Task VmSizesAsync(HttpContext context, string subscriptionId, string location)
    {
        var (data, _) = await AuthorizeAsync(context, subscriptionId, "Microsoft.Compute/locations/vmSizes/read").ConfigureAwait(false);
        CheckLocation(data, location);
        var handler = VirtualMachines(data);
        var value = new JsonArray();
        foreach (var size in VmSizeCatalog.Sizes.Where(handler.FleetCanHost))
        {
            value.Add(new JsonObject
            {
                ["name"] = size.Name,
                ["numberOfCores"] = size.VCpus,
                ["osDiskSizeInMB"] = VmSize.OsDiskSizeInMB,
                ["resourceDiskSizeInMB"] = size.ResourceDiskGiB * 1024,
                ["memoryInMB"] = size.MemoryMiB,
                ["maxDataDiskCount"] = size.MaxDataDisks,
            });
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = value }).ConfigureAwait(false);
    }

    private static async Task InstanceViewAsync(HttpContext context, string subscriptionId, string resourceGroupName, string vmName)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        var subscription = (await data.GetSubscriptionAsync(subscriptionId, caller, context.RequestAborted).ConfigureAwait(false)).SubscriptionId;
        var id = ResourceId.Resource(subscription, resourceGroupName, ComputeProvider.Namespace, [new ResourceIdSegment("virtualMachines", vmName)]);
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, ComputeProvider.VirtualMachinesType + "/read", id.ToString()).ConfigureAwait(false);
        await data.GetGroupAsync(subscription, resourceGroupName, context.RequestAborted).ConfigureAwait(false);
        var kv = await data.Store.GetAsync(ResourceKeys.Resource(id), context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiErrors.ResourceNotFound(ComputeProvider.VirtualMachinesType, vmName);
        var view = await VirtualMachines(data).InstanceViewAsync(ResourceDocument.Parse(kv.Value), context.RequestAborted, BootDiagnosticsEndpoints.LogUrl(context, id)).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, view).ConfigureAwait(false);
    }

    internal static async Task<(ArmData Data, string SubscriptionId)> AuthorizeAsync(HttpContext context, string subscriptionId, string action)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, action, "/subscriptions/" + subscription.SubscriptionId).ConfigureAwait(false);
        return (data, subscription.SubscriptionId);
    }

    private static void CheckLocation(ArmData data, string location)
    {
        if (!data.IsOwnLocation(location))
        {
            throw new ApiException(HttpStatusCode.NotFound, "LocationNotAvailableForResourceType", $"The provided location '{location}' is not available for resource type 'Microsoft.Compute/locations'. List of available regions for the resource type is '{data.Options.Location}'.");
        }
    }

    internal static VirtualMachineHandler VirtualMachines(ArmData data) =>
        (VirtualMachineHandler)data.Registry.FindType(ComputeProvider.VirtualMachinesType)!.Handler;

    private static JsonObject Usage(string name, string localizedName, int currentValue, int limit) => new()
    {
        ["unit"] = "Count",
        ["currentValue"] = currentValue,
        ["limit"] = limit,
        ["name"] = new JsonObject { ["value"] = name, ["localizedValue"] = localizedName },
    };
}
