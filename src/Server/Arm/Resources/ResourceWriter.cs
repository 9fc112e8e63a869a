using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Identity.Tokens;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Resources.Tags;
using Holdfast.State;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Arm.Resources;

/// <summary>
/// PUT, PATCH and DELETE of one generic resource. Each validates everything first (collecting every problem), then
/// commits the desired state, the operation and the reference to it in one transaction guarded by the observed
/// revisions of the resource and its group — so a concurrent write or a group deletion makes it retry or fail cleanly,
/// never half-write. The response comes straight after the commit; the reconciler does the work.
/// </summary>
internal sealed class ResourceWriter(HttpContext context, ArmData data, TokenPrincipal caller, ResourceRoute route, JsonObject group, KeyValue groupStored, string apiVersion)
{
    private const int MaxAttempts = 4;

    /// <summary>Types with admission share counters (quota, address pools) that concurrent writes contend on: more retries.</summary>
    private const int MaxAdmissionAttempts = 64;

    private ResourceId Id => route.Id!;

    private int Attempts => route.Type.Handler is IResourceAdmission ? MaxAdmissionAttempts : MaxAttempts;

    private string Key => ResourceKeys.Resource(Id);

    public async Task PutAsync()
    {
        EnsureGroupActive();
        if (route.Type.NameRule.Validate(Id.Name) is { } problem)
        {
            throw ApiErrors.InvalidResourceName(Id.Name, route.Type.FullType, problem);
        }

        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);
        var errors = new List<ApiError>();
        var location = body["location"];
        string? locationName = null;
        if (location is null)
        {
            if (route.Type.RequiresLocation)
            {
                throw ApiErrors.LocationRequired();
            }
        }
        else if (location.GetValueKind() != JsonValueKind.String)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'location' property must be a string.", "location"));
        }
        else
        {
            locationName = location.GetValue<string>();
            data.ValidateLocation(locationName, errors);
        }

        var tags = TagRules.Validate(body["tags"], errors);
        var properties = body["properties"];
        if (properties is not null and not JsonObject)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'properties' property must be a JSON object.", "properties"));
        }

        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        await EnsureParentAsync().ConfigureAwait(false);
        for (var attempt = 1; ; attempt++)
        {
            var existing = await data.Store.GetAsync(Key, context.RequestAborted).ConfigureAwait(false);
            Preconditions.Check(context.Request, existing);
            var previous = existing is null ? null : ResourceDocument.Parse(existing.Value);
            EnsureNoOperationInProgress(previous);
            var desiredProperties = (properties as JsonObject)?.DeepClone().AsObject() ?? [];
            desiredProperties.Remove("provisioningState");
            var validation = new ResourceValidationContext(Id, desiredProperties, previous?["properties"] as JsonObject);
            route.Type.Handler.Validate(validation);
            if (validation.Errors.Count > 0)
            {
                throw ApiException.FromValidation(validation.Errors);
            }

            var name = previous?["name"]?.GetValue<string>() ?? Id.Name;
            var resource = new JsonObject
            {
                ["id"] = (previous?["id"]?.GetValue<string>()) ?? Id.ToString(),
                ["name"] = name,
                ["type"] = route.Type.FullType,
            };
            if (locationName is not null)
            {
                resource["location"] = data.Options.Location;
            }

            resource["tags"] = tags.DeepClone();
            foreach (var extra in new[] { "kind", "sku", "identity", "plan", "zones", "extendedLocation", "managedBy", "placement" })
            {
                if (body[extra] is { } value)
                {
                    resource[extra] = value.DeepClone();
                }
            }

            if (previous is not null && IsUnchanged(previous, resource, desiredProperties))
            {
                // Idempotent PUT: the same desired state again is a read, with no operation.
                context.Response.Headers.ETag = ResourceDocument.ETag(existing!.ModRevision);
                await ArmResponses.WriteStoredAsync(context, StatusCodes.Status200OK, existing.Value, route.Type.HasETag ? ResourceDocument.ETag(existing.ModRevision) : null).ConfigureAwait(false);
                return;
            }

            desiredProperties["provisioningState"] = previous is null ? ProvisioningStates.Creating : ProvisioningStates.Updating;
            resource["properties"] = desiredProperties;
            resource["systemData"] = data.SystemData(caller, previous?["systemData"] as JsonObject);
            if (await CommitAsync(resource, existing, previous, "write").ConfigureAwait(false) is { } revision)
            {
                await RespondAsync(previous is null && !route.Type.CreateReturnsOk ? StatusCodes.Status201Created : StatusCodes.Status200OK, resource, revision).ConfigureAwait(false);
                return;
            }

            if (attempt >= Attempts || context.Request.Headers.IfMatch.Count > 0 || context.Request.Headers.IfNoneMatch.Count > 0)
            {
                throw ApiErrors.Conflict($"The resource '{Id}' or its resource group was modified concurrently; retry the request.");
            }
        }
    }

    public async Task PatchAsync()
    {
        EnsureGroupActive();
        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);
        var errors = new List<ApiError>();
        var tags = body.ContainsKey("tags") ? TagRules.Validate(body["tags"], errors) : null;
        if (body["properties"] is { } patchProperties and not JsonObject)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'properties' property must be a JSON object.", "properties"));
        }

        if (body["location"] is { } location && (location.GetValueKind() != JsonValueKind.String || !data.IsOwnLocation(location.GetValue<string>())))
        {
            errors.Add(new ApiError(ArmErrorCodes.PropertyChangeNotAllowed, "Changing property 'location' is not allowed.", "location"));
        }

        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        for (var attempt = 1; ; attempt++)
        {
            var existing = await data.Store.GetAsync(Key, context.RequestAborted).ConfigureAwait(false)
                ?? throw ApiErrors.ResourceNotFound(route.Type.FullType, Id.Name);
            Preconditions.Check(context.Request, existing);
            var resource = ResourceDocument.Parse(existing.Value);
            EnsureNoOperationInProgress(resource);
            var desiredProperties = (resource["properties"] as JsonObject)?.DeepClone().AsObject() ?? [];
            var existingProperties = desiredProperties.DeepClone().AsObject();
            desiredProperties.Remove("provisioningState");
            if (body["properties"] is JsonObject patch)
            {
                MergePatch(desiredProperties, patch);
            }

            var validation = new ResourceValidationContext(Id, desiredProperties, existingProperties);
            route.Type.Handler.Validate(validation);
            if (validation.Errors.Count > 0)
            {
                throw ApiException.FromValidation(validation.Errors);
            }

            if (tags is not null)
            {
                resource["tags"] = tags.DeepClone();
            }

            desiredProperties["provisioningState"] = ProvisioningStates.Updating;
            resource["properties"] = desiredProperties;
            resource["systemData"] = data.SystemData(caller, resource["systemData"] as JsonObject);
            if (await CommitAsync(resource, existing, ResourceDocument.Parse(existing.Value), "write").ConfigureAwait(false) is { } revision)
            {
                await RespondAsync(StatusCodes.Status200OK, resource, revision).ConfigureAwait(false);
                return;
            }

            if (attempt == MaxAttempts || context.Request.Headers.IfMatch.Count > 0)
            {
                throw ApiErrors.Conflict($"The resource '{Id}' was modified concurrently; retry the request.");
            }
        }
    }

    public async Task DeleteAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            var existing = await data.Store.GetAsync(Key, context.RequestAborted).ConfigureAwait(false);
            if (existing is null)
            {
                // ARM answers 204 for deleting what is not there (the SDK accepts it).
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            Preconditions.Check(context.Request, existing);
            var resource = ResourceDocument.Parse(existing.Value);
            if (string.Equals(ResourceDocument.GetProvisioningState(resource), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
            {
                var reference = await data.Store.GetAsync(ResourceKeys.OperationRef(Key), context.RequestAborted).ConfigureAwait(false);
                if (reference is not null)
                {
                    WriteOperationHeaders(System.Text.Encoding.UTF8.GetString(reference.Value.Span), includeLocation: true);
                    context.Response.StatusCode = StatusCodes.Status202Accepted;
                    return;
                }
            }

            EnsureNoOperationInProgress(resource);
            ResourceDocument.SetProvisioningState(resource, ProvisioningStates.Deleting);
            if (await CommitAsync(resource, existing, ResourceDocument.Parse(existing.Value), "delete").ConfigureAwait(false) is not null)
            {
                context.Response.StatusCode = StatusCodes.Status202Accepted;
                return;
            }

            if (attempt == MaxAttempts || context.Request.Headers.IfMatch.Count > 0)
            {
                throw ApiErrors.Conflict($"The resource '{Id}' was modified concurrently; retry the request.");
            }
        }
    }

    /// <summary>
    /// Commits the desired state with a new operation, and what the type's admission adds (checked again on every
    /// attempt); null when a compare failed (the caller retries).
    /// </summary>
    private async Task<long?> CommitAsync(JsonObject resource, KeyValue? existing, JsonObject? previous, string kind)
    {
        var admission = Admission.None;
        if (route.Type.Handler is IResourceAdmission admitter)
        {
            var admissionKind = kind == "delete" ? AdmissionKind.Delete : existing is null ? AdmissionKind.Create : AdmissionKind.Update;
            admission = await admitter.AdmitAsync(new ResourceAdmissionContext(Id, admissionKind, resource, previous, data.Store), context.RequestAborted).ConfigureAwait(false);
        }

        var operationId = Guid.NewGuid().ToString();
        var (_, operationOps) = data.NewOperation(Id.SubscriptionId!, StatusPath(operationId), operationId, Key, resource["id"]!.GetValue<string>(), kind);
        var compares = new List<Compare>
        {
            existing is null ? Compare.Absent(Key) : Compare.ModRevisionIs(Key, existing.ModRevision),
            Compare.ModRevisionIs(groupStored.Key, groupStored.ModRevision),
        };
        compares.AddRange(admission.Compares);
        var result = await data.CommitAsync(context, new TxnRequest(compares, [TxnOp.Put(Key, ResourceDocument.Serialize(resource)), .. operationOps, .. admission.Ops]), kind == "delete" ? StatusCodes.Status202Accepted : existing is null && !route.Type.CreateReturnsOk ? StatusCodes.Status201Created : StatusCodes.Status200OK).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return null;
        }

        WriteOperationHeaders(operationId, includeLocation: kind == "delete");
        return result.Revision;
    }

    private Task RespondAsync(int statusCode, JsonObject resource, long revision)
    {
        var etag = ResourceDocument.ETag(revision);
        context.Response.Headers.ETag = etag;
        return ArmResponses.WriteJsonAsync(context, statusCode, route.Type.HasETag ? ResourceDocument.WithETag(resource, etag) : resource);
    }

    private string StatusPath(string operationId) =>
        $"/subscriptions/{Id.SubscriptionId}/providers/{route.Type.ProviderNamespace}/locations/{data.Options.Location}/operationStatuses/{operationId}";

    private void WriteOperationHeaders(string operationId, bool includeLocation)
    {
        var query = "?api-version=" + Uri.EscapeDataString(apiVersion);
        context.Response.Headers["Azure-AsyncOperation"] = ArmResponses.AbsoluteUrl(context, StatusPath(operationId) + query);
        if (includeLocation)
        {
            context.Response.Headers.Location = ArmResponses.AbsoluteUrl(context, $"/subscriptions/{Id.SubscriptionId}/providers/{route.Type.ProviderNamespace}/locations/{data.Options.Location}/operationResults/{operationId}" + query);
        }
    }

    private void EnsureGroupActive()
    {
        if (string.Equals(ResourceDocument.GetProvisioningState(group), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.Conflict, ArmErrorCodes.ResourceGroupBeingDeleted, $"The resource group '{group["name"]}' is in deprovisioning state and cannot perform this operation.");
        }
    }

    private async Task EnsureParentAsync()
    {
        if (Id.Segments.Count > 1 && await data.Store.GetAsync(ResourceKeys.Resource(Id.Parent!), context.RequestAborted).ConfigureAwait(false) is null)
        {
            throw new ApiException(HttpStatusCode.NotFound, "ParentResourceNotFound", $"Can not perform requested operation on nested resource. Parent resource '{Id.Parent!.Name}' not found.");
        }
    }

    private void EnsureNoOperationInProgress(JsonObject? resource)
    {
        var state = resource is null ? null : ResourceDocument.GetProvisioningState(resource);
        if (!ProvisioningStates.IsTerminal(state))
        {
            throw new ApiException(HttpStatusCode.Conflict, "AnotherOperationInProgress", $"Another operation on '{Id}' is in progress (provisioningState '{state}'). Retry when it has finished.");
        }
    }

    private static bool IsUnchanged(JsonObject previous, JsonObject resource, JsonObject desiredProperties)
    {
        var previousProperties = (previous["properties"] as JsonObject)?.DeepClone().AsObject() ?? [];
        if (!string.Equals(previousProperties["provisioningState"]?.GetValue<string>(), ProvisioningStates.Succeeded, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        previousProperties.Remove("provisioningState");
        if (!JsonNode.DeepEquals(previousProperties, desiredProperties))
        {
            return false;
        }

        foreach (var (name, node) in resource)
        {
            if (!JsonNode.DeepEquals(previous[name], node))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>JSON merge patch (RFC 7396) of <paramref name="patch"/> into <paramref name="target"/>.</summary>
    private static void MergePatch(JsonObject target, JsonObject patch)
    {
        foreach (var (name, value) in patch)
        {
            if (value is null)
            {
                target.Remove(name);
            }
            else if (value is JsonObject child && target[name] is JsonObject existing)
            {
                MergePatch(existing, child);
            }
            else
            {
                target[name] = value.DeepClone();
            }
        }
    }
}
