using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Identity.Principals;
using Holdfast.Identity.Secrets;
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
/// Users, people who sign in with the password grant: PUT (201 / 200; <c>properties.password</c> is required on
/// create, optional on update, checked against <see cref="PasswordPolicy"/>, stored only as a hash and never
/// returned), GET, list, DELETE. Setting a new password refuses every token issued before it. Operator-only.
/// </summary>
internal static class UserEndpoints
{
    public const string Type = "users";
    public const string ResourceType = DirectoryApi.Namespace + "/" + Type;
    private const string ItemPath = "/providers/" + DirectoryApi.Namespace + "/users/{name}";

    public static void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/providers/" + DirectoryApi.Namespace + "/users", ListAsync).WithMetadata(DirectoryApi.Metadata);
        routes.MapGet(ItemPath, GetAsync).WithMetadata(DirectoryApi.Metadata);
        routes.MapPut(ItemPath, PutAsync).WithMetadata(DirectoryApi.Metadata);
        routes.MapDelete(ItemPath, DeleteAsync).WithMetadata(DirectoryApi.Metadata);
    }

    private static async Task ListAsync(HttpContext context)
    {
        await AuthorizeAsync(context, "read").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var tenant = ArmRequest.Of(context).RequirePrincipal().TenantId;
        await DirectoryApi.WritePageAsync(context, data.Store, DirectoryKeys.UsersOf(tenant), kv => ToResource(UserRecord.Deserialize(kv.Value.Span))).ConfigureAwait(false);
    }

    private static async Task GetAsync(HttpContext context, string name)
    {
        await AuthorizeAsync(context, "read").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var stored = await data.Store.GetAsync(DirectoryKeys.User(ArmRequest.Of(context).RequirePrincipal().TenantId, name), context.RequestAborted).ConfigureAwait(false)
            ?? throw DirectoryApi.NotFound(Type, name);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, ToResource(UserRecord.Deserialize(stored.Value.Span))).ConfigureAwait(false);
    }

    private static async Task PutAsync(HttpContext context, string name)
    {
        await AuthorizeAsync(context, "write").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var tenant = ArmRequest.Of(context).RequirePrincipal().TenantId;
        DirectoryApi.ValidateName(name, Type);
        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);
        var properties = DirectoryApi.Properties(body);
        var errors = new List<ApiError>();
        var displayName = DirectoryApi.OptionalString(properties, "displayName", "properties.displayName", 256, errors);
        string? password = null;
        if (properties["password"] is { } passwordNode)
        {
            if (passwordNode.GetValueKind() != System.Text.Json.JsonValueKind.String)
            {
                errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'properties.password' property must be a string.", "properties.password"));
            }
            else
            {
                password = passwordNode.GetValue<string>();
                errors.AddRange(PasswordPolicy.Validate(password, name).Select(p => new ApiError("PasswordPolicyViolation", p, "properties.password")));
            }
        }

        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        var key = DirectoryKeys.User(tenant, name);
        var now = data.Time.GetUtcNow();

        // Hashing is deliberately slow; do it once, outside the retry loop.
        var hash = password is null ? null : SecretHasher.Hash(password, UserRecord.PasswordIterations);
        for (var attempt = 0; ; attempt++)
        {
            var stored = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
            Preconditions.Check(context.Request, stored);
            UserRecord record;
            if (stored is null)
            {
                if (hash is null)
                {
                    throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, "The 'properties.password' property is required when creating a user.", "properties.password");
                }

                record = new UserRecord
                {
                    TenantId = tenant,
                    Name = name,
                    ObjectId = Guid.NewGuid().ToString(),
                    DisplayName = displayName ?? name,
                    PasswordHash = hash,
                    PasswordId = Guid.NewGuid().ToString(),
                    PasswordChangedAt = now,
                };
            }
            else
            {
                var existing = UserRecord.Deserialize(stored.Value.Span);
                record = existing with { DisplayName = displayName ?? existing.DisplayName };
                if (hash is not null)
                {
                    record = record with { PasswordHash = hash, PasswordId = Guid.NewGuid().ToString(), PasswordChangedAt = now };
                }
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
                throw DirectoryApi.ConcurrentChange("user", name);
            }
        }
    }

    private static async Task DeleteAsync(HttpContext context, string name)
    {
        await AuthorizeAsync(context, "delete").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        var key = DirectoryKeys.User(caller.TenantId, name);
        for (var attempt = 0; ; attempt++)
        {
            var stored = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
            if (stored is null)
            {
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            Preconditions.Check(context.Request, stored);
            if (string.Equals(UserRecord.Deserialize(stored.Value.Span).ObjectId, caller.ObjectId, StringComparison.OrdinalIgnoreCase))
            {
                throw new ApiException(HttpStatusCode.Conflict, "CannotDeleteSelf", $"The user '{name}' is the caller; a principal cannot delete itself (that would lock the caller out).");
            }

            var result = await data.CommitAsync(context, new TxnRequest([Compare.ModRevisionIs(key, stored.ModRevision)], [TxnOp.Delete(key)]), StatusCodes.Status200OK).ConfigureAwait(false);
            if (result.Succeeded)
            {
                await ServicePrincipalEndpoints.CatchUpAsync(context, result.Revision).ConfigureAwait(false);
                context.Response.StatusCode = StatusCodes.Status200OK;
                return;
            }

            if (attempt >= 3)
            {
                throw DirectoryApi.ConcurrentChange("user", name);
            }
        }
    }

    private static JsonObject ToResource(UserRecord record) => new()
    {
        ["id"] = DirectoryApi.ResourceId(Type, record.Name),
        ["name"] = record.Name,
        ["type"] = ResourceType,
        ["properties"] = new JsonObject
        {
            ["displayName"] = record.DisplayName,
            ["userPrincipalName"] = record.Name,
            ["objectId"] = record.ObjectId,
            ["lastPasswordChangeDateTime"] = record.PasswordChangedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
        },
    };

    private static ValueTask AuthorizeAsync(HttpContext context, string operation) =>
        context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, $"{ResourceType}/{operation}", DirectoryApi.OperatorScope);
}
