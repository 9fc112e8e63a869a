using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Server.Arm;
using Holdfast.Server.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Compute.VirtualMachines;

/// <summary>
/// Boot diagnostics, in Azure's shape: <c>POST .../virtualMachines/{name}/retrieveBootDiagnosticsData</c> answers
/// <c>{ serialConsoleLogBlobUri }</c>. Azure's URI is a SAS blob URL; ours is <see cref="LogUrl"/> on this server, which
/// serves the serial console's tail (what the host agent last reported, at most 64 KiB) as text/plain to a caller
/// authorized for the same action. No screenshot: the VMs have no display.
/// </summary>
internal static class BootDiagnosticsEndpoints
{
    public const string Action = ComputeProvider.VirtualMachinesType + "/retrieveBootDiagnosticsData/action";
    private const string VmPath = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}";

    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: ComputeProvider.ApiVersions);
        routes.MapPost(VmPath + "/retrieveBootDiagnosticsData", RetrieveAsync).WithMetadata(metadata);
        routes.MapGet(VmPath + "/bootDiagnostics/serialConsoleLog", SerialConsoleLogAsync).WithMetadata(metadata);
    }

    /// <summary>The absolute URL of a VM's serial console log on this server.</summary>
    public static string LogUrl(HttpContext context, ResourceId vmId) =>
        ArmResponses.AbsoluteUrl(context, vmId + "/bootDiagnostics/serialConsoleLog?api-version=" + Uri.EscapeDataString(context.Request.Query["api-version"].ToString()));

    private static async Task RetrieveAsync(HttpContext context, string subscriptionId, string resourceGroupName, string vmName)
    {
        var (id, _) = await ReadVmAsync(context, subscriptionId, resourceGroupName, vmName).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["serialConsoleLogBlobUri"] = LogUrl(context, id) }).ConfigureAwait(false);
    }

    private static async Task SerialConsoleLogAsync(HttpContext context, string subscriptionId, string resourceGroupName, string vmName)
    {
        var (_, resource) = await ReadVmAsync(context, subscriptionId, resourceGroupName, vmName).ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var properties = resource["properties"] as JsonObject;
        var console = properties?["vmId"] is null ? null
            : await data.Store.GetAsync(VmGuestData.ConsoleKey(VirtualMachineHandler.InstanceIdOf(properties)), context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/plain; charset=utf-8";
        if (console is not null)
        {
            await context.Response.Body.WriteAsync(console.Value, context.RequestAborted).ConfigureAwait(false);
        }
    }

    private static async Task<(ResourceId Id, JsonObject Resource)> ReadVmAsync(HttpContext context, string subscriptionId, string resourceGroupName, string vmName)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        var subscription = (await data.GetSubscriptionAsync(subscriptionId, caller, context.RequestAborted).ConfigureAwait(false)).SubscriptionId;
        var id = ResourceId.Resource(subscription, resourceGroupName, ComputeProvider.Namespace, [new ResourceIdSegment("virtualMachines", vmName)]);
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, Action, id.ToString()).ConfigureAwait(false);
        await data.GetGroupAsync(subscription, resourceGroupName, context.RequestAborted).ConfigureAwait(false);
        var kv = await data.Store.GetAsync(ResourceKeys.Resource(id), context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiErrors.ResourceNotFound(ComputeProvider.VirtualMachinesType, vmName);
        return (id, ResourceDocument.Parse(kv.Value));
    }
}
