using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Fabric;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Server.Arm;
using Holdfast.Server.Authorization;
using Holdfast.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Compute.VirtualMachines;

/// <summary>
/// A VM's power actions, as long-running operations (202 with <c>Azure-AsyncOperation</c> and <c>Location</c>):
/// <c>start</c>, <c>powerOff</c> (stopped, capacity kept), <c>deallocate</c> (capacity freed; <c>start</c> places it
/// again), <c>restart</c> (stop, then start) and <c>redeploy</c> (moved to another host). The request commits, in one transaction guarded by the VM's,
/// the instance's and the intent's revisions: the instance's desired power state, the <see cref="VmPowerIntent"/>, the VM
/// in <c>Updating</c> and the operation. The reconcile loop finishes it when the host reports the wanted state.
/// </summary>
internal static class VirtualMachineActionEndpoints
{
    public static readonly IReadOnlyList<string> Actions = ["start", "powerOff", "deallocate", "restart", "redeploy"];
    private const int MaxAttempts = 8;

    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: ComputeProvider.ApiVersions);
        foreach (var action in Actions)
        {
            routes.MapPost(
                "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}/" + action,
                (HttpContext context, string subscriptionId, string resourceGroupName, string vmName) => ActAsync(context, subscriptionId, resourceGroupName, vmName, action)).WithMetadata(metadata);
        }
    }

    private static async Task ActAsync(HttpContext context, string subscriptionId, string resourceGroupName, string vmName, string action)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        var subscription = (await data.GetSubscriptionAsync(subscriptionId, caller, context.RequestAborted).ConfigureAwait(false)).SubscriptionId;
        var id = ResourceId.Resource(subscription, resourceGroupName, ComputeProvider.Namespace, [new ResourceIdSegment("virtualMachines", vmName)]);
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, $"{ComputeProvider.VirtualMachinesType}/{action}/action", id.ToString()).ConfigureAwait(false);
        await data.GetWritableSubscriptionAsync(subscription, caller, context.RequestAborted).ConfigureAwait(false);
        if (!await data.IsRegisteredAsync(subscription, data.Registry.FindProvider(ComputeProvider.Namespace)!, context.RequestAborted).ConfigureAwait(false))
        {
            throw new ApiException(HttpStatusCode.Conflict, ArmErrorCodes.MissingSubscriptionRegistration, $"The subscription is not registered to use namespace '{ComputeProvider.Namespace}'.", "Summary");
        }

        var key = ResourceKeys.Resource(id);
        for (var attempt = 1; ; attempt++)
        {
            var (group, groupStored) = await data.GetGroupAsync(subscription, resourceGroupName, context.RequestAborted).ConfigureAwait(false);
            if (string.Equals(ResourceDocument.GetProvisioningState(group), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
            {
                throw new ApiException(HttpStatusCode.Conflict, ArmErrorCodes.ResourceGroupBeingDeleted, $"The resource group '{resourceGroupName}' is in deprovisioning state and cannot perform this operation.");
            }

            var vm = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false)
                ?? throw ApiErrors.ResourceNotFound(ComputeProvider.VirtualMachinesType, vmName);
            var resource = ResourceDocument.Parse(vm.Value);
            var state = ResourceDocument.GetProvisioningState(resource);
            if (!ProvisioningStates.IsTerminal(state))
            {
                throw new ApiException(HttpStatusCode.Conflict, "OperationNotAllowed", $"Operation '{action}' is not allowed on VM '{vmName}' while another operation is in progress (provisioningState '{state}'). Retry when it has finished.");
            }

            var properties = (JsonObject)resource["properties"]!;
            var instanceId = VirtualMachineHandler.InstanceIdOf(properties);
            var instanceKey = FabricKeys.Instance(instanceId);
            var intentKey = VmPowerIntent.Key(instanceId);
            var instanceStored = await data.Store.GetAsync(instanceKey, context.RequestAborted).ConfigureAwait(false);
            var intentStored = await data.Store.GetAsync(intentKey, context.RequestAborted).ConfigureAwait(false);
            var intent = intentStored is null ? new VmPowerIntent() : VmPowerIntent.Parse(intentStored.Value);
            var instance = instanceStored is null ? null : FabricJson.Deserialize<InstanceDocument>(instanceStored.Value.Span);
            var ops = new List<TxnOp>();
            switch (action)
            {
                case "start":
                    if (intentStored is not null)
                    {
                        ops.Add(TxnOp.Delete(intentKey));
                    }

                    Desire(instance, PowerState.Running, instanceKey, ops);
                    break;
                case "powerOff":
                    Desire(instance, PowerState.Stopped, instanceKey, ops);
                    break;
                case "deallocate":
                    ops.Add(TxnOp.Put(intentKey, new VmPowerIntent(Deallocated: true).Serialize()));
                    break;
                case "redeploy":
                    if (instance?.Host is null || intent.Deallocated)
                    {
                        throw new ApiException(HttpStatusCode.Conflict, "OperationNotAllowed", $"Operation 'redeploy' is not allowed on VM '{vmName}' since the VM is deallocated or not allocated to a host. Start it instead.");
                    }

                    ops.Add(TxnOp.Put(intentKey, new VmPowerIntent(RedeployFromEpoch: instance.Epoch).Serialize()));
                    break;
                default:
                    if (instance is null || intent.Deallocated)
                    {
                        throw new ApiException(HttpStatusCode.Conflict, "OperationNotAllowed", $"Operation 'restart' is not allowed on VM '{vmName}' since the VM is deallocated. Start it instead.");
                    }

                    ops.Add(TxnOp.Put(intentKey, new VmPowerIntent(Restart: true).Serialize()));
                    Desire(instance, PowerState.Stopped, instanceKey, ops, force: true);
                    break;
            }

            ResourceDocument.SetProvisioningState(resource, ProvisioningStates.Updating);
            var operationId = Guid.NewGuid().ToString();
            var statusPath = $"/subscriptions/{subscription}/providers/{ComputeProvider.Namespace}/locations/{data.Options.Location}/operationStatuses/{operationId}";
            var (_, operationOps) = data.NewOperation(subscription, statusPath, operationId, key, resource["id"]!.GetValue<string>(), "action");
            var compares = new List<Compare>
            {
                Compare.ModRevisionIs(key, vm.ModRevision),
                Compare.ModRevisionIs(groupStored.Key, groupStored.ModRevision),
                instanceStored is null ? Compare.Absent(instanceKey) : Compare.ModRevisionIs(instanceKey, instanceStored.ModRevision),
                intentStored is null ? Compare.Absent(intentKey) : Compare.ModRevisionIs(intentKey, intentStored.ModRevision),
            };
            var result = await data.CommitAsync(context, new TxnRequest(compares, [TxnOp.Put(key, ResourceDocument.Serialize(resource)), .. ops, .. operationOps]), StatusCodes.Status202Accepted).ConfigureAwait(false);
            if (result.Succeeded)
            {
                var query = "?api-version=" + Uri.EscapeDataString(context.Request.Query["api-version"].ToString());
                context.Response.Headers["Azure-AsyncOperation"] = ArmResponses.AbsoluteUrl(context, statusPath + query);
                context.Response.Headers.Location = ArmResponses.AbsoluteUrl(context, $"/subscriptions/{subscription}/providers/{ComputeProvider.Namespace}/locations/{data.Options.Location}/operationResults/{operationId}" + query);
                context.Response.StatusCode = StatusCodes.Status202Accepted;
                return;
            }

            if (attempt == MaxAttempts)
            {
                throw ApiErrors.Conflict($"The VM '{id}' was modified concurrently; retry the request.");
            }
        }
    }

    /// <summary>Adds the instance's new desired power state to <paramref name="ops"/> when it changes (or always, with <paramref name="force"/>).</summary>
    private static void Desire(InstanceDocument? instance, PowerState power, string instanceKey, List<TxnOp> ops, bool force = false)
    {
        if (instance is not null && (force || instance.DesiredPowerState != power))
        {
            ops.Add(TxnOp.Put(instanceKey, FabricJson.Serialize(instance with { DesiredPowerState = power })));
        }
    }
}
