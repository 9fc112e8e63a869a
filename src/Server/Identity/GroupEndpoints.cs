using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Identity.Principals;
using Holdfast.Resources.Errors;
using Holdfast.Server.Arm;
using Holdfast.Server.Authorization;
using Holdfast.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Identity;

/// <summary>
/// Security groups: PUT (201 / 200) with <c>properties.members</c> as the object ids of existing principals in the
/// tenant, GET, list, DELETE. A role assigned to a group applies to its direct members
/// (<see cref="PrincipalDirectory.GroupsOfAsync"/>). Operator-only. Stored under <c>/principalgroups/</c>, never
/// <c>/groups/</c> (resource groups).
/// </summary>
internal static class GroupEndpoints
{
    public const string Type = "groups";
    public const string ResourceType = DirectoryApi.Namespace + "/" + Type;
    private const string ItemPath = "/providers/" + DirectoryApi.Namespace + "/groups/{name}";
    private const int MaxMembers = 1000;

    public static void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/providers/" + DirectoryApi.Namespace + "/groups", ListAsync).WithMetadata(DirectoryApi.Metadata);
        routes.MapGet(ItemPath, GetAsync).WithMetadata(DirectoryApi.Metadata);
        routes.MapPut(ItemPath, PutAsync).WithMetadata(DirectoryApi.Metadata);
        routes.MapDelete(ItemPath, DeleteAsync).WithMetadata(DirectoryApi.Metadata);
    }

    private static async Task ListAsync(HttpContext context)
    {
        await AuthorizeAsync(context, "read").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var tenant = ArmRequest.Of(context).RequirePrincipal().TenantId;
        await DirectoryApi.WritePageAsync(context, data.Store, DirectoryKeys.GroupsOf(tenant), kv => ToResource(GroupRecord.Deserialize(kv.Value.Span))).ConfigureAwait(false);
    }

    private static async Task GetAsync(HttpContext context, string name)
    {
        await AuthorizeAsync(context, "read").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var stored = await data.Store.GetAsync(DirectoryKeys.Group(ArmRequest.Of(context).RequirePrincipal().TenantId, name), context.RequestAborted).ConfigureAwait(false)
            ?? throw DirectoryApi.NotFound(Type, name);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, ToResource(GroupRecord.Deserialize(stored.Value.Span))).ConfigureAwait(false);
    }

    private static async Task PutAsync(HttpContext context, string name)
    {
        await AuthorizeAsync(context, "write").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var directory = context.RequestServices.GetRequiredService<PrincipalDirectory>();
        var tenant = ArmRequest.Of(context).RequirePrincipal().TenantId;
        DirectoryApi.ValidateName(name, Type);
        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);
        var properties = DirectoryApi.Properties(body);
        var errors = new List<ApiError>();
        var displayName = DirectoryApi.OptionalString(properties, "displayName", "properties.displayName", 256, errors);
        var members = await ReadMembersAsync(properties, tenant, directory, errors, context.RequestAborted).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        var key = DirectoryKeys.Group(tenant, name);
        for (var attempt = 0; ; attempt++)
        {
            var stored = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
            Preconditions.Check(context.Request, stored);
            var existing = stored is null ? null : GroupRecord.Deserialize(stored.Value.Span);
            var record = new GroupRecord
            {
                TenantId = tenant,
                Name = existing?.Name ?? name,
                ObjectId = existing?.ObjectId ?? Guid.NewGuid().ToString(),
                DisplayName = displayName ?? existing?.DisplayName ?? name,
                Members = members ?? existing?.Members ?? [],
            };
            if (record.Members.Contains(record.ObjectId, StringComparer.OrdinalIgnoreCase))
            {
                throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, $"The group '{name}' cannot be a member of itself.", "properties.members");
            }

            var status = stored is null ? StatusCodes.Status201Created : StatusCodes.Status200OK;
            var compare = stored is null ? Compare.Absent(key) : Compare.ModRevisionIs(key, stored.ModRevision);
            var result = await data.CommitAsync(context, new TxnRequest([compare], [TxnOp.Put(key, record.Serialize())]), status).ConfigureAwait(false);
            if (result.Succeeded)
            {
                await ServicePrincipalEndpoints.CatchUpAsync(context, result.Revision).ConfigureAwait(false);
                await ArmResponses.WriteJsonAsync(context, status, ToResource(record)).ConfigureAwait(false);
                return;
            }

            if (attempt >= 3 || context.Request.Headers.IfMatch.Count > 0 || context.Request.Headers.IfNoneMatch.Count > 0)
            {
                throw DirectoryApi.ConcurrentChange("group", name);
            }
        }
    }

    private static async Task DeleteAsync(HttpContext context, string name)
    {
        await AuthorizeAsync(context, "delete").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var key = DirectoryKeys.Group(ArmRequest.Of(context).RequirePrincipal().TenantId, name);
        for (var attempt = 0; ; attempt++)
        {
            var stored = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
            if (stored is null)
            {
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            Preconditions.Check(context.Request, stored);
            var result = await data.CommitAsync(context, new TxnRequest([Compare.ModRevisionIs(key, stored.ModRevision)], [TxnOp.Delete(key)]), StatusCodes.Status200OK).ConfigureAwait(false);
            if (result.Succeeded)
            {
                await ServicePrincipalEndpoints.CatchUpAsync(context, result.Revision).ConfigureAwait(false);
                context.Response.StatusCode = StatusCodes.Status200OK;
                return;
            }

            if (attempt >= 3)
            {
                throw DirectoryApi.ConcurrentChange("group", name);
            }
        }
    }

    /// <summary>The member object ids (null when absent): GUIDs of principals that exist in the tenant, no duplicates.</summary>
    private static async Task<IReadOnlyList<string>?> ReadMembersAsync(JsonObject properties, string tenant, PrincipalDirectory directory, List<ApiError> errors, CancellationToken cancellationToken)
    {
        var node = properties["members"];
        if (node is null)
        {
            return null;
        }

        if (node is not JsonArray array)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'properties.members' property must be an array of object ids.", "properties.members"));
            return null;
        }

        if (array.Count > MaxMembers)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, $"A group has at most {MaxMembers} direct members.", "properties.members"));
            return null;
        }

        var members = new List<string>();
        for (var i = 0; i < array.Count; i++)
        {
            var target = $"properties.members[{i}]";
            if (array[i] is not JsonValue value || value.GetValueKind() != JsonValueKind.String || !Guid.TryParse(value.GetValue<string>(), out var objectId))
            {
                errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, "Each member must be a principal's object id (a GUID).", target));
                continue;
            }

            var id = objectId.ToString();
            var principal = await directory.FindAsync(id, cancellationToken).ConfigureAwait(false);
            if (principal is null || !string.Equals(principal.TenantId, tenant, StringComparison.OrdinalIgnoreCase))
            {
                errors.Add(new ApiError("PrincipalNotFound", $"Principal '{id}' does not exist in the directory '{tenant}'.", target));
            }
            else if (!members.Contains(principal.ObjectId, StringComparer.OrdinalIgnoreCase))
            {
                members.Add(principal.ObjectId);
            }
        }

        return members;
    }

    private static JsonObject ToResource(GroupRecord record) => new()
    {
        ["id"] = DirectoryApi.ResourceId(Type, record.Name),
        ["name"] = record.Name,
        ["type"] = ResourceType,
        ["properties"] = new JsonObject
        {
            ["displayName"] = record.DisplayName,
            ["objectId"] = record.ObjectId,
            ["members"] = new JsonArray(record.Members.Select(m => (JsonNode)m).ToArray()),
        },
    };

    private static ValueTask AuthorizeAsync(HttpContext context, string operation) =>
        context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, $"{ResourceType}/{operation}", DirectoryApi.OperatorScope);
}
