using System.Net;
using System.Text;
using System.Text.Json;
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
/// Service principals, an operator-only tenant-level resource: PUT (201 new / 200 updated), GET, list, DELETE (200, or
/// 204 when absent; its tokens stop working as the response goes out), and Microsoft Graph's <c>addPassword</c>
/// (the secret is returned once and stored hashed) and <c>removePassword</c>. Responses never carry a hash or secret
/// except the new one. The record stays at <c>/principals/{tenant}/{appId}</c> (the token endpoint finds it by client
/// id) and <c>/principalnames/{tenant}/{name}</c> maps the name to it; both change in one transaction.
/// </summary>
internal static class ServicePrincipalEndpoints
{
    public const string Type = "servicePrincipals";
    public const string ResourceType = DirectoryApi.Namespace + "/" + Type;
    private const string ItemPath = "/providers/" + DirectoryApi.Namespace + "/servicePrincipals/{name}";

    /// <summary>A new password lasts two years unless the request says otherwise, as in Microsoft Graph.</summary>
    private static readonly TimeSpan DefaultPasswordLifetime = TimeSpan.FromDays(730);

    private const int MaxPasswords = 20;

    public static void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/providers/" + DirectoryApi.Namespace + "/servicePrincipals", ListAsync).WithMetadata(DirectoryApi.Metadata);
        routes.MapGet(ItemPath, GetAsync).WithMetadata(DirectoryApi.Metadata);
        routes.MapPut(ItemPath, PutAsync).WithMetadata(DirectoryApi.Metadata);
        routes.MapDelete(ItemPath, DeleteAsync).WithMetadata(DirectoryApi.Metadata);
        routes.MapPost(ItemPath + "/addPassword", AddPasswordAsync).WithMetadata(DirectoryApi.Metadata);
        routes.MapPost(ItemPath + "/removePassword", RemovePasswordAsync).WithMetadata(DirectoryApi.Metadata);
    }

    private static async Task ListAsync(HttpContext context)
    {
        await AuthorizeAsync(context, "read").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var tenant = ArmRequest.Of(context).RequirePrincipal().TenantId;
        await DirectoryApi.WritePageAsync(context, data.Store, DirectoryKeys.ServicePrincipalsOf(tenant), kv => ToResource(ServicePrincipalRecord.Deserialize(kv.Value.Span))).ConfigureAwait(false);
    }

    private static async Task GetAsync(HttpContext context, string name)
    {
        await AuthorizeAsync(context, "read").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var (record, _, _) = await FindAsync(data, ArmRequest.Of(context).RequirePrincipal().TenantId, name, context.RequestAborted).ConfigureAwait(false)
            ?? throw DirectoryApi.NotFound(Type, name);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, ToResource(record)).ConfigureAwait(false);
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
        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        for (var attempt = 0; ; attempt++)
        {
            var found = await FindAsync(data, tenant, name, context.RequestAborted).ConfigureAwait(false);
            TxnRequest txn;
            ServicePrincipalRecord record;
            if (found is var (existing, stored, index))
            {
                Preconditions.Check(context.Request, stored);
                record = existing with { DisplayName = displayName ?? existing.DisplayName };
                txn = new TxnRequest(
                    [Compare.ModRevisionIs(stored.Key, stored.ModRevision), Compare.ModRevisionIs(index.Key, index.ModRevision)],
                    [TxnOp.Put(stored.Key, record.Serialize())]);
            }
            else
            {
                Preconditions.Check(context.Request, null);
                record = new ServicePrincipalRecord
                {
                    TenantId = tenant,
                    Name = name,
                    AppId = Guid.NewGuid().ToString(),
                    ObjectId = Guid.NewGuid().ToString(),
                    DisplayName = displayName ?? name,
                    PasswordCredentials = [],
                };
                var key = DirectoryKeys.ServicePrincipal(tenant, record.AppId);
                var indexKey = DirectoryKeys.ServicePrincipalName(tenant, name);
                txn = new TxnRequest(
                    [Compare.Absent(key), Compare.Absent(indexKey)],
                    [TxnOp.Put(key, record.Serialize()), TxnOp.Put(indexKey, Encoding.UTF8.GetBytes(record.AppId))]);
            }

            var status = found is null ? StatusCodes.Status201Created : StatusCodes.Status200OK;
            var result = await data.CommitAsync(context, txn, status).ConfigureAwait(false);
            if (result.Succeeded)
            {
                await CatchUpAsync(context, result.Revision).ConfigureAwait(false);
                await ArmResponses.WriteJsonAsync(context, status, ToResource(record)).ConfigureAwait(false);
                return;
            }

            if (attempt >= 3 || context.Request.Headers.IfMatch.Count > 0 || context.Request.Headers.IfNoneMatch.Count > 0)
            {
                throw DirectoryApi.ConcurrentChange("service principal", name);
            }
        }
    }

    private static async Task DeleteAsync(HttpContext context, string name)
    {
        await AuthorizeAsync(context, "delete").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        for (var attempt = 0; ; attempt++)
        {
            var found = await FindAsync(data, caller.TenantId, name, context.RequestAborted).ConfigureAwait(false);
            if (found is not var (record, stored, index))
            {
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            Preconditions.Check(context.Request, stored);
            if (string.Equals(record.ObjectId, caller.ObjectId, StringComparison.OrdinalIgnoreCase))
            {
                throw new ApiException(HttpStatusCode.Conflict, "CannotDeleteSelf", $"The service principal '{name}' is the caller; a principal cannot delete itself (that would lock the caller out).");
            }

            var result = await data.CommitAsync(
                context,
                new TxnRequest(
                    [Compare.ModRevisionIs(stored.Key, stored.ModRevision), Compare.ModRevisionIs(index.Key, index.ModRevision)],
                    [TxnOp.Delete(stored.Key), TxnOp.Delete(index.Key)]),
                StatusCodes.Status200OK).ConfigureAwait(false);
            if (result.Succeeded)
            {
                await CatchUpAsync(context, result.Revision).ConfigureAwait(false);
                context.Response.StatusCode = StatusCodes.Status200OK;
                return;
            }

            if (attempt >= 3)
            {
                throw DirectoryApi.ConcurrentChange("service principal", name);
            }
        }
    }

    private static async Task AddPasswordAsync(HttpContext context, string name)
    {
        await AuthorizeAsync(context, "addPassword/action").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var tenant = ArmRequest.Of(context).RequirePrincipal().TenantId;
        var body = await ArmBody.ReadObjectAsync(context, allowEmpty: true).ConfigureAwait(false);
        var now = data.Time.GetUtcNow();
        var errors = new List<ApiError>();
        var displayName = DirectoryApi.OptionalString(body, "displayName", "displayName", 256, errors);
        var endDateTime = ReadEndDateTime(body, now, errors) ?? now + DefaultPasswordLifetime;
        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        var secret = SecretHasher.NewSecret();
        var credential = new PasswordCredential { KeyId = Guid.NewGuid().ToString(), Hash = SecretHasher.Hash(secret), EndDateTime = endDateTime, DisplayName = displayName };
        for (var attempt = 0; ; attempt++)
        {
            var (record, stored, _) = await FindAsync(data, tenant, name, context.RequestAborted).ConfigureAwait(false)
                ?? throw DirectoryApi.NotFound(Type, name);
            if (record.PasswordCredentials.Count >= MaxPasswords)
            {
                throw new ApiException(HttpStatusCode.BadRequest, "TooManyPasswordCredentials", $"The service principal '{name}' already has {MaxPasswords} passwords; remove one first.");
            }

            var updated = record with { PasswordCredentials = [.. record.PasswordCredentials, credential] };
            var result = await data.CommitAsync(
                context,
                new TxnRequest([Compare.ModRevisionIs(stored.Key, stored.ModRevision)], [TxnOp.Put(stored.Key, updated.Serialize())]),
                StatusCodes.Status200OK).ConfigureAwait(false);
            if (result.Succeeded)
            {
                await CatchUpAsync(context, result.Revision).ConfigureAwait(false);
                context.Response.Headers.CacheControl = "no-store";
                await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject
                {
                    ["secretText"] = secret,
                    ["keyId"] = credential.KeyId,
                    ["displayName"] = credential.DisplayName,
                    ["startDateTime"] = Timestamp(now),
                    ["endDateTime"] = Timestamp(credential.EndDateTime),
                    ["hint"] = secret[..3],
                }).ConfigureAwait(false);
                return;
            }

            if (attempt >= 3)
            {
                throw DirectoryApi.ConcurrentChange("service principal", name);
            }
        }
    }

    private static async Task RemovePasswordAsync(HttpContext context, string name)
    {
        await AuthorizeAsync(context, "removePassword/action").ConfigureAwait(false);
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var tenant = ArmRequest.Of(context).RequirePrincipal().TenantId;
        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);
        if (body["keyId"] is not JsonValue keyNode || keyNode.GetValueKind() != JsonValueKind.String || !Guid.TryParse(keyNode.GetValue<string>(), out _))
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidParameter, "The 'keyId' property is required and must be the GUID addPassword returned.", "keyId");
        }

        var keyId = keyNode.GetValue<string>();
        for (var attempt = 0; ; attempt++)
        {
            var (record, stored, _) = await FindAsync(data, tenant, name, context.RequestAborted).ConfigureAwait(false)
                ?? throw DirectoryApi.NotFound(Type, name);
            var remaining = record.PasswordCredentials.Where(c => !string.Equals(c.KeyId, keyId, StringComparison.OrdinalIgnoreCase)).ToList();
            if (remaining.Count == record.PasswordCredentials.Count)
            {
                throw new ApiException(HttpStatusCode.NotFound, "PasswordCredentialNotFound", $"The service principal '{name}' has no password with key id '{keyId}'.", "keyId");
            }

            var result = await data.CommitAsync(
                context,
                new TxnRequest([Compare.ModRevisionIs(stored.Key, stored.ModRevision)], [TxnOp.Put(stored.Key, (record with { PasswordCredentials = remaining }).Serialize())]),
                StatusCodes.Status204NoContent).ConfigureAwait(false);
            if (result.Succeeded)
            {
                await CatchUpAsync(context, result.Revision).ConfigureAwait(false);
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            if (attempt >= 3)
            {
                throw DirectoryApi.ConcurrentChange("service principal", name);
            }
        }
    }

    /// <summary>The record, its stored entry and its name-index entry, or null when the name is unknown.</summary>
    internal static async Task<(ServicePrincipalRecord Record, KeyValue Stored, KeyValue Index)?> FindAsync(ArmData data, string tenantId, string name, CancellationToken cancellationToken)
    {
        if (name.Length == 0 || name.Length > 256)
        {
            return null;
        }

        var index = await data.Store.GetAsync(DirectoryKeys.ServicePrincipalName(tenantId, name), cancellationToken).ConfigureAwait(false);
        if (index is null)
        {
            return null;
        }

        var stored = await data.Store.GetAsync(DirectoryKeys.ServicePrincipal(tenantId, Encoding.UTF8.GetString(index.Value.Span)), cancellationToken).ConfigureAwait(false);
        return stored is null ? null : (ServicePrincipalRecord.Deserialize(stored.Value.Span), stored, index);
    }

    private static JsonObject ToResource(ServicePrincipalRecord record)
    {
        var name = record.Name ?? record.AppId;
        var passwords = new JsonArray();
        foreach (var credential in record.PasswordCredentials)
        {
            passwords.Add(new JsonObject
            {
                ["keyId"] = credential.KeyId,
                ["displayName"] = credential.DisplayName,
                ["endDateTime"] = Timestamp(credential.EndDateTime),
            });
        }

        return new JsonObject
        {
            ["id"] = DirectoryApi.ResourceId(Type, name),
            ["name"] = name,
            ["type"] = ResourceType,
            ["properties"] = new JsonObject
            {
                ["displayName"] = record.DisplayName,
                ["appId"] = record.AppId,
                ["objectId"] = record.ObjectId,
                ["passwordCredentials"] = passwords,
            },
        };
    }

    private static DateTimeOffset? ReadEndDateTime(JsonObject body, DateTimeOffset now, List<ApiError> errors)
    {
        var node = body["endDateTime"];
        if (node is null)
        {
            return null;
        }

        if (node.GetValueKind() != JsonValueKind.String
            || !DateTimeOffset.TryParse(node.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var end))
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, "The 'endDateTime' property must be an ISO 8601 date and time.", "endDateTime"));
            return null;
        }

        if (end <= now)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, "The 'endDateTime' must be in the future.", "endDateTime"));
            return null;
        }

        return end;
    }

    private static string Timestamp(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);

    private static ValueTask AuthorizeAsync(HttpContext context, string operation) =>
        context.RequestServices.GetRequiredService<RequestAuthorizer>().AuthorizeAsync(context, $"{ResourceType}/{operation}", DirectoryApi.OperatorScope);

    /// <summary>
    /// Returns once the directory has applied this commit, so the change (a revocation) holds for every later request.
    /// When it has not within <see cref="DirectoryApi.CatchUpTimeout"/> the request answers 503: the change is committed
    /// but not yet in force here, and a success would promise what the server cannot yet keep.
    /// </summary>
    internal static async Task CatchUpAsync(HttpContext context, long revision)
    {
        if (!await context.RequestServices.GetRequiredService<PrincipalDirectory>().WaitForRevisionAsync(revision, DirectoryApi.CatchUpTimeout, context.RequestServices.GetRequiredService<TimeProvider>()).ConfigureAwait(false))
        {
            throw NotYetInForce();
        }
    }

    internal static ApiException NotYetInForce() =>
        new(HttpStatusCode.ServiceUnavailable, ArmErrorCodes.ServiceUnavailable, "The change was committed, but this server has not applied it yet, so it may not be in force for requests already under way. Retry the request to confirm it.");
}
