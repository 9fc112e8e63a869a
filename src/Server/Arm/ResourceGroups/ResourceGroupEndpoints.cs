using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Resources;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Resources.Tags;
using Holdfast.Server.Arm.ResourceLists;
using Holdfast.Server.Authorization;
using Holdfast.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Arm.ResourceGroups;

/// <summary>
/// Resource groups as ARM serves them: PUT (synchronous, 201 new / 200 existing), GET, HEAD (204/404), PATCH (tags,
/// managedBy), list with <c>$filter</c>/<c>$top</c>/<c>nextLink</c>, and DELETE as a long-running operation (202 +
/// <c>Location</c>) that a reconciler completes by deleting every resource in the group first.
/// </summary>
internal static class ResourceGroupEndpoints
{
    private const string GroupPath = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}";

    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: ResourcesProvider.ResourceGroupApiVersions);
        routes.MapGet("/subscriptions/{subscriptionId}/resourcegroups", ListAsync).WithMetadata(metadata);
        routes.MapGet(GroupPath, GetAsync).WithMetadata(metadata);
        routes.MapMethods(GroupPath, [HttpMethods.Head], HeadAsync).WithMetadata(metadata);
        routes.MapPut(GroupPath, PutAsync).WithMetadata(metadata);
        routes.MapPatch(GroupPath, PatchAsync).WithMetadata(metadata);
        routes.MapDelete(GroupPath, DeleteAsync).WithMetadata(metadata);
        routes.MapGet("/subscriptions/{subscriptionId}/operationresults/{operationId}", OperationResultAsync)
            .WithMetadata(new ArmEndpointMetadata(IgnoreApiVersion: true));
    }

    private static async Task ListAsync(HttpContext context, string subscriptionId)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, caller, context.RequestAborted).ConfigureAwait(false);
        var include = await ReadableGroupsAsync(context, subscription.SubscriptionId).ConfigureAwait(false);
        var prefix = ResourceKeys.GroupsOf(subscriptionId);
        var query = ListQuery.Parse(context.Request, prefix);
        var (items, continueAfter) = await query.ReadPageAsync(data.Store, prefix, include, context.RequestAborted).ConfigureAwait(false);
        var body = new JsonObject { ["value"] = new JsonArray(items.Select(i => (JsonNode)i.Resource).ToArray()) };
        if (continueAfter is not null)
        {
            body["nextLink"] = ListQuery.NextLink(context, continueAfter);
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, body).ConfigureAwait(false);
    }

    private static async Task GetAsync(HttpContext context, string subscriptionId, string resourceGroupName)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        await AuthorizeAsync(context, data, subscriptionId, resourceGroupName, "read").ConfigureAwait(false);
        var kv = await data.Store.GetAsync(ResourceKeys.Group(subscriptionId, resourceGroupName), context.RequestAborted).ConfigureAwait(false)
            ?? throw ApiErrors.ResourceGroupNotFound(resourceGroupName);
        context.Response.Headers.ETag = ResourceDocument.ETag(kv.ModRevision);
        await ArmResponses.WriteStoredAsync(context, StatusCodes.Status200OK, kv.Value, etag: null).ConfigureAwait(false);
    }

    private static async Task HeadAsync(HttpContext context, string subscriptionId, string resourceGroupName)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        await AuthorizeAsync(context, data, subscriptionId, resourceGroupName, "read").ConfigureAwait(false);
        var kv = await data.Store.GetAsync(ResourceKeys.Group(subscriptionId, resourceGroupName), context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = kv is null ? StatusCodes.Status404NotFound : StatusCodes.Status204NoContent;
    }

    private static async Task PutAsync(HttpContext context, string subscriptionId, string resourceGroupName)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        await AuthorizeAsync(context, data, subscriptionId, resourceGroupName, "write").ConfigureAwait(false);
        var subscription = await data.GetWritableSubscriptionAsync(subscriptionId, caller, context.RequestAborted).ConfigureAwait(false);
        ValidateName(resourceGroupName);
        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);

        var errors = new List<ApiError>();
        var location = ReadString(body, "location", errors);
        if (location is null && errors.Count == 0)
        {
            throw ApiErrors.LocationRequired();
        }

        data.ValidateLocation(location, errors, "LocationNotAvailableForResourceGroup");
        var tags = TagRules.Validate(body["tags"], errors);
        var managedBy = ReadString(body, "managedBy", errors);
        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        var key = ResourceKeys.Group(subscriptionId, resourceGroupName);
        var canonicalSubscription = subscription.SubscriptionId;
        var conditional = context.Request.Headers.IfMatch.Count > 0 || context.Request.Headers.IfNoneMatch.Count > 0;
        KeyValue? existing = null;
        var readByCommit = false;
        for (var attempt = 0; ; attempt++)
        {
            // An unconditional first attempt starts from what this replica last wrote, or else reads without a quorum
            // round (etcd); the compare-and-swap below catches a stale guess, its failure branch reads the current
            // value, and a refusal is only ever given on a fresh read.
            var fresh = conditional || attempt > 0;
            if (readByCommit)
            {
                readByCommit = false;
            }
            else if (fresh)
            {
                existing = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
            }
            else
            {
                existing = data.OwnWrites.Find(key) ?? await data.Store.GetSerializableAsync(key, context.RequestAborted).ConfigureAwait(false);
            }

            JsonObject? previous;
            try
            {
                Preconditions.Check(context.Request, existing);
                previous = existing is null ? null : ResourceDocument.Parse(existing.Value);
                CheckReplaceable(data, previous, location!);
            }
            catch (ApiException) when (!fresh)
            {
                continue;
            }

            // An existing group keeps the name casing it was created with, as in ARM.
            var name = previous?["name"]?.GetValue<string>() ?? resourceGroupName;
            var group = new JsonObject
            {
                ["id"] = ResourceId.ResourceGroup(canonicalSubscription, name).ToString(),
                ["name"] = name,
                ["type"] = ResourceId.ResourceGroupType,
                ["location"] = data.Options.Location,
                ["tags"] = tags.DeepClone(),
                ["properties"] = new JsonObject { ["provisioningState"] = ProvisioningStates.Succeeded },
                ["systemData"] = data.SystemData(caller, previous?["systemData"] as JsonObject),
            };
            if (managedBy is not null)
            {
                group["managedBy"] = managedBy;
            }

            var document = ResourceDocument.Serialize(group);
            var write = await data.CommitAsync(context, new TxnRequest([Compare.ModRevisionIs(key, existing?.ModRevision ?? 0)], [TxnOp.Put(key, document)], [TxnOp.Get(key)]), existing is null ? StatusCodes.Status201Created : StatusCodes.Status200OK).ConfigureAwait(false);
            if (write.Succeeded)
            {
                data.OwnWrites.Remember(key, document, write.Revision, existing);
                context.Response.Headers.ETag = ResourceDocument.ETag(write.Revision);
                await ArmResponses.WriteStoredAsync(context, existing is null ? StatusCodes.Status201Created : StatusCodes.Status200OK, document, etag: null).ConfigureAwait(false);
                return;
            }

            existing = write.Results is [{ Kvs: [var current, ..] }] ? current : null;
            readByCommit = true;
            if (attempt >= 3 || conditional)
            {
                throw ApiErrors.Conflict("The resource group was modified concurrently; retry the request.");
            }
        }
    }

    /// <summary>An existing group is replaced only when it is not being deleted and stays in its location.</summary>
    private static void CheckReplaceable(ArmData data, JsonObject? previous, string location)
    {
        if (previous is null)
        {
            return;
        }

        if (string.Equals(ResourceDocument.GetProvisioningState(previous), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.Conflict, ArmErrorCodes.ResourceGroupBeingDeleted, $"The resource group '{previous["name"]}' is in deprovisioning state and cannot perform this operation.");
        }

        var existingLocation = previous["location"]!.GetValue<string>();
        if (!string.Equals(existingLocation, data.Options.Location, StringComparison.OrdinalIgnoreCase) || !data.IsOwnLocation(location))
        {
            throw new ApiException(HttpStatusCode.Conflict, ArmErrorCodes.InvalidResourceGroupLocation, $"Invalid resource group location '{location}'. The Resource group already exists in location '{existingLocation}'.");
        }
    }

    private static async Task PatchAsync(HttpContext context, string subscriptionId, string resourceGroupName)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        await AuthorizeAsync(context, data, subscriptionId, resourceGroupName, "write").ConfigureAwait(false);
        await data.GetWritableSubscriptionAsync(subscriptionId, caller, context.RequestAborted).ConfigureAwait(false);
        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);
        var errors = new List<ApiError>();
        var tags = body.ContainsKey("tags") ? TagRules.Validate(body["tags"], errors) : null;
        var managedBy = ReadString(body, "managedBy", errors);
        var location = ReadString(body, "location", errors);
        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        var key = ResourceKeys.Group(subscriptionId, resourceGroupName);
        for (var attempt = 0; ; attempt++)
        {
            var existing = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false)
                ?? throw ApiErrors.ResourceGroupNotFound(resourceGroupName);
            Preconditions.Check(context.Request, existing);
            var group = ResourceDocument.Parse(existing.Value);
            if (string.Equals(ResourceDocument.GetProvisioningState(group), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
            {
                throw new ApiException(HttpStatusCode.Conflict, ArmErrorCodes.ResourceGroupBeingDeleted, $"The resource group '{group["name"]}' is in deprovisioning state and cannot perform this operation.");
            }

            if (location is not null && !data.IsOwnLocation(location))
            {
                throw new ApiException(HttpStatusCode.Conflict, ArmErrorCodes.InvalidResourceGroupLocation, $"Invalid resource group location '{location}'. The Resource group already exists in location '{group["location"]}'.");
            }

            if (tags is not null)
            {
                group["tags"] = tags.DeepClone();
            }

            if (managedBy is not null)
            {
                group["managedBy"] = managedBy;
            }

            group["systemData"] = data.SystemData(caller, group["systemData"] as JsonObject);
            var document = ResourceDocument.Serialize(group);
            var write = await data.CommitAsync(context, new TxnRequest([Compare.ModRevisionIs(key, existing.ModRevision)], [TxnOp.Put(key, document)]), StatusCodes.Status200OK).ConfigureAwait(false);
            if (write.Succeeded)
            {
                context.Response.Headers.ETag = ResourceDocument.ETag(write.Revision);
                await ArmResponses.WriteStoredAsync(context, StatusCodes.Status200OK, document, etag: null).ConfigureAwait(false);
                return;
            }

            if (attempt >= 3 || context.Request.Headers.IfMatch.Count > 0)
            {
                throw ApiErrors.Conflict("The resource group was modified concurrently; retry the request.");
            }
        }
    }

    private static async Task DeleteAsync(HttpContext context, string subscriptionId, string resourceGroupName)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        await AuthorizeAsync(context, data, subscriptionId, resourceGroupName, "delete").ConfigureAwait(false);
        var subscription = await data.GetWritableSubscriptionAsync(subscriptionId, caller, context.RequestAborted).ConfigureAwait(false);
        var canonicalSubscription = subscription.SubscriptionId;
        var key = ResourceKeys.Group(subscriptionId, resourceGroupName);
        for (var attempt = 0; ; attempt++)
        {
            var existing = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false)
                ?? throw ApiErrors.ResourceGroupNotFound(resourceGroupName);
            Preconditions.Check(context.Request, existing);
            var group = ResourceDocument.Parse(existing.Value);
            if (string.Equals(ResourceDocument.GetProvisioningState(group), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
            {
                var reference = await data.Store.GetAsync(ResourceKeys.OperationRef(key), context.RequestAborted).ConfigureAwait(false);
                if (reference is not null)
                {
                    Accepted(context, canonicalSubscription, Encoding.UTF8.GetString(reference.Value.Span));
                    return;
                }
            }

            var operationId = Guid.NewGuid().ToString();
            var statusPath = $"/subscriptions/{canonicalSubscription}/operationresults/{operationId}";
            var (_, operationOps) = data.NewOperation(canonicalSubscription, statusPath, operationId, key, group["id"]!.GetValue<string>(), "delete");
            ResourceDocument.SetProvisioningState(group, ProvisioningStates.Deleting);
            var result = await data.CommitAsync(
                context,
                new TxnRequest([Compare.ModRevisionIs(key, existing.ModRevision)], [.. operationOps, TxnOp.Put(key, ResourceDocument.Serialize(group))]),
                StatusCodes.Status202Accepted).ConfigureAwait(false);
            if (result.Succeeded)
            {
                Accepted(context, canonicalSubscription, operationId);
                return;
            }

            if (attempt >= 3)
            {
                throw ApiErrors.Conflict("The resource group was modified concurrently; retry the request.");
            }
        }
    }

    /// <summary>
    /// ARM's resource-group delete monitor: 202 (with <c>Location</c> again) while running, 200 with an empty body
    /// when done, and the error envelope with 409 when the deletion failed. It ignores the api-version the SDK writes in.
    /// </summary>
    private static async Task OperationResultAsync(HttpContext context, string subscriptionId, string operationId)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        var operation = await OperationLookup.FindAsync(data, subscription.SubscriptionId, operationId, context.RequestAborted).ConfigureAwait(false);

        // The poll is authorized where the operation's resource lives, so whoever may read that group may poll it (others find nothing).
        await OperationLookup.AuthorizePollAsync(context, context.RequestServices.GetRequiredService<RequestAuthorizer>(), "Microsoft.Resources/subscriptions/operationresults/read", operation, operationId).ConfigureAwait(false);
        if (!operation.IsTerminal)
        {
            Accepted(context, subscription.SubscriptionId, operation.Name);
            return;
        }

        if (!string.Equals(operation.Status, ProvisioningStates.Succeeded, StringComparison.Ordinal))
        {
            var error = operation.Error ?? new ApiError(ArmErrorCodes.Conflict, $"The operation ended with status '{operation.Status}'.");
            throw new ApiException(HttpStatusCode.Conflict, error.Code, error.Message, error.Target, error.Details);
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    /// <summary>Authorizes <c>Microsoft.Resources/subscriptions/resourceGroups/{verb}</c> on the group, before anything is read.</summary>
    private static async Task AuthorizeAsync(HttpContext context, ArmData data, string subscriptionId, string resourceGroupName, string verb)
    {
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, "Microsoft.Resources/subscriptions/resourceGroups/" + verb, ResourceId.ResourceGroup(subscription.SubscriptionId, resourceGroupName).ToString()).ConfigureAwait(false);
    }

    /// <summary>
    /// As ARM: a caller who may read every group of the subscription lists them all; one who holds roles only on some
    /// groups lists those; one without any role in the subscription is refused.
    /// </summary>
    private static async Task<Func<KeyValue, bool>?> ReadableGroupsAsync(HttpContext context, string subscriptionId)
    {
        const string action = "Microsoft.Resources/subscriptions/resourceGroups/read";
        if (await context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeListAsync(context, action, subscriptionId).ConfigureAwait(false) is not { } access)
        {
            return null;
        }

        var groupsPrefix = ResourceKeys.GroupsOf(subscriptionId);
        return kv => access.Allows(action, ResourceId.ResourceGroup(subscriptionId, kv.Key[groupsPrefix.Length..]).ToString());
    }

    private static void Accepted(HttpContext context, string subscriptionId, string operationId)
    {
        var apiVersion = context.Request.Query["api-version"].ToString();
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.Headers.Location = ArmResponses.AbsoluteUrl(context, $"/subscriptions/{subscriptionId}/operationresults/{operationId}?api-version={Uri.EscapeDataString(apiVersion)}");
    }

    private static void ValidateName(string name)
    {
        if (NameRule.ResourceGroup.Validate(name) is { } problem)
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidResourceGroup, $"The provided resource group name '{name}' is not valid. {problem} The name can only be a letter, digit, '-', '.', '(', ')' or '_', 1 to 90 characters, and cannot end with '.'.", "resourceGroupName");
        }
    }

    private static string? ReadString(JsonObject body, string property, List<ApiError> errors)
    {
        var node = body[property];
        if (node is null)
        {
            return null;
        }

        if (node.GetValueKind() != System.Text.Json.JsonValueKind.String)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The '{property}' property must be a string.", property));
            return null;
        }

        return node.GetValue<string>();
    }
}
