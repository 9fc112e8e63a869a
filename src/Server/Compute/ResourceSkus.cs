using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Holdfast.Capacity.Catalog;
using Holdfast.Resources.Errors;
using Holdfast.Server.Arm;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Compute;

/// <summary>
/// <c>GET /subscriptions/{id}/providers/Microsoft.Compute/skus</c> (Azure's Resource SKUs list) for the catalog's VM
/// sizes. As Azure does, every size is listed; one no in-service host could hold carries a <c>Location</c> restriction
/// with reason code <c>NotAvailableForSubscription</c> (what Azure writes for a size not offered to the subscription in
/// that region), so clients that skip restricted SKUs see the same set <c>vmSizes</c> offers. Capabilities carry Azure's
/// names and string values. Supports <c>$filter=location eq '…'</c> (another location: an empty list).
/// </summary>
internal static partial class ResourceSkus
{
    /// <summary>The Resource SKUs API's versions (2021-07-01 is what Azure.ResourceManager.Compute 1.2.0 sends).</summary>
    public static readonly IReadOnlyList<string> ApiVersions = ["2021-07-01", "2019-04-01", "2017-09-01"];

    public static async Task ListAsync(HttpContext context, string subscriptionId)
    {
        var (data, _) = await ComputeEndpoints.AuthorizeAsync(context, subscriptionId, "Microsoft.Compute/skus/read").ConfigureAwait(false);
        var location = data.Options.Location;
        var filter = context.Request.Query["$filter"].ToString();
        var value = new JsonArray();
        if (filter.Length > 0)
        {
            var match = LocationFilter().Match(filter);
            if (!match.Success)
            {
                throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, $"The $filter '{filter}' is not supported. Use \"location eq '<location>'\".", "$filter");
            }

            if (!data.IsOwnLocation(match.Groups["location"].Value))
            {
                await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = value }).ConfigureAwait(false);
                return;
            }
        }

        var handler = ComputeEndpoints.VirtualMachines(data);
        foreach (var size in VmSizeCatalog.Sizes)
        {
            value.Add(Sku(size, location, handler.FleetCanHost(size)));
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = value }).ConfigureAwait(false);
    }

    /// <summary>One size as Azure's <c>ResourceSku</c>.</summary>
    public static JsonObject Sku(VmSize size, string location, bool available)
    {
        var capabilities = new JsonArray();
        void Add(string name, string value) => capabilities.Add(new JsonObject { ["name"] = name, ["value"] = value });
        Add("MaxResourceVolumeMB", (size.ResourceDiskGiB * 1024).ToString(CultureInfo.InvariantCulture));
        Add("OSVhdSizeMB", VmSize.OsDiskSizeInMB.ToString(CultureInfo.InvariantCulture));
        Add("vCPUs", size.VCpus.ToString(CultureInfo.InvariantCulture));
        Add("HyperVGenerations", "V1,V2");
        Add("MemoryGB", (size.MemoryMiB / 1024.0).ToString(CultureInfo.InvariantCulture));
        Add("MaxDataDiskCount", size.MaxDataDisks.ToString(CultureInfo.InvariantCulture));
        Add("CpuArchitectureType", "x64");
        Add("LowPriorityCapable", "False");
        Add("PremiumIO", PremiumIO(size) ? "True" : "False");
        Add("VMDeploymentTypes", "IaaS");
        Add("vCPUsAvailable", size.VCpus.ToString(CultureInfo.InvariantCulture));
        Add("EphemeralOSDiskSupported", "False");
        Add("AcceleratedNetworkingEnabled", "False");
        Add("MaxNetworkInterfaces", Math.Clamp(size.VCpus / 2, 2, 8).ToString(CultureInfo.InvariantCulture));
        if (size.Gpus > 0)
        {
            Add("GPUs", size.Gpus.ToString(CultureInfo.InvariantCulture));
        }

        var sku = new JsonObject
        {
            ["resourceType"] = "virtualMachines",
            ["name"] = size.Name,
            ["tier"] = "Standard",
            ["size"] = size.Name["Standard_".Length..],
            ["family"] = size.Family,
            ["locations"] = new JsonArray(location),
            ["locationInfo"] = new JsonArray(new JsonObject { ["location"] = location, ["zones"] = new JsonArray(), ["zoneDetails"] = new JsonArray() }),
            ["capabilities"] = capabilities,
            ["restrictions"] = new JsonArray(),
        };
        if (!available)
        {
            sku["restrictions"] = new JsonArray(new JsonObject
            {
                ["type"] = "Location",
                ["values"] = new JsonArray(location),
                ["restrictionInfo"] = new JsonObject { ["locations"] = new JsonArray(location) },
                ["reasonCode"] = "NotAvailableForSubscription",
            });
        }

        return sku;
    }

    /// <summary>Premium storage: Azure's "s" sizes (DSv3, DSv5, ESv5, FSv2) and the B-series.</summary>
    private static bool PremiumIO(VmSize size) => size.Family.EndsWith("SFamily", StringComparison.Ordinal)
        || size.Family.Contains("Sv", StringComparison.Ordinal);

    [GeneratedRegex(@"^\s*location\s+eq\s+'(?<location>[^']*)'\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex LocationFilter();
}
