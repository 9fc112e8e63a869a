using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Identity.Authorization;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Server.Authorization;
using Holdfast.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Arm.Subscriptions;

/// <summary>
/// The operator's subscription management, at the root scope with <c>Holdfast.Operator/subscriptions/*</c> actions (so
/// only operator roles reach it): <c>PUT /providers/Holdfast.Operator/subscriptions/{guid}</c> creates (201) or updates
/// (200) a subscription's <c>displayName</c> and <c>state</c> (<c>Enabled</c> | <c>Disabled</c>); PATCH changes either;
/// GET and list read them. A disabled subscription keeps serving reads and refuses writes
/// (<c>ReadOnlyDisabledSubscription</c>), as Azure's. The shape follows Azure Stack Hub's admin subscriptions
/// (<c>{id,name,type,properties:{subscriptionId,displayName,state,tenantId}}</c>), trimmed to what this cloud has.
/// </summary>
internal static class OperatorSubscriptionEndpoints
{
    public const string Namespace = "Holdfast.Operator";
    public const string ApiVersion = "2025-01-01";
    private const string Collection = "/providers/Holdfast.Operator/subscriptions";
    private static readonly string[] States = ["Enabled", "Disabled"];

    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: [ApiVersion]);
        routes.MapGet(Collection, ListAsync).WithMetadata(metadata);
        routes.MapGet(Collection + "/{subscriptionId}", GetAsync).WithMetadata(metadata);
        routes.MapPut(Collection + "/{subscriptionId}", (HttpContext c, string subscriptionId) => WriteAsync(c, subscriptionId, patch: false)).WithMetadata(metadata);
        routes.MapPatch(Collection + "/{subscriptionId}", (HttpContext c, string subscriptionId) => WriteAsync(c, subscriptionId, patch: true)).WithMetadata(metadata);
    }

    private static async Task ListAsync(HttpContext context)
    {
        var (data, authorizer, _) = Services(context);
        await authorizer.AuthorizeAsync(context, Namespace + "/subscriptions/read", Scopes.Root).ConfigureAwait(false);
        var caller = ArmRequest.Of(context).RequirePrincipal();
        var items = (await data.ListSubscriptionsAsync(caller, context.RequestAborted).ConfigureAwait(false)).Select(s => (JsonNode)Render(s.Document)).ToArray();
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = new JsonArray(items) }).ConfigureAwait(false);
    }

    private static async Task GetAsync(HttpContext context, string subscriptionId)
    {
        var (data, authorizer, _) = Services(context);
        await authorizer.AuthorizeAsync(context, Namespace + "/subscriptions/read", Scopes.Root).ConfigureAwait(false);
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, Render(subscription.Document)).ConfigureAwait(false);
    }

    private static async Task WriteAsync(HttpContext context, string subscriptionId, bool patch)
    {
        var (data, authorizer, directory) = Services(context);
        var caller = ArmRequest.Of(context).RequirePrincipal();
        await authorizer.AuthorizeAsync(context, Namespace + "/subscriptions/write", Scopes.Root).ConfigureAwait(false);
        // Only the canonical form: "{…}" or 32-digit spellings of the same GUID would name a second subscription key.
        if (!Guid.TryParseExact(subscriptionId, "D", out var parsed))
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidSubscriptionId, $"The provided subscription identifier '{subscriptionId}' is malformed or invalid.");
        }

        var body = await ArmBody.ReadObjectAsync(context).ConfigureAwait(false);
        if (body["properties"] is not JsonObject properties)
        {
            throw ApiErrors.InvalidRequestContent("The request content was invalid: 'properties' must be a JSON object.", "properties");
        }

        var errors = new List<ApiError>();
        var displayName = ReadString(properties, "displayName", errors);
        if (displayName is not null && (displayName.Trim().Length == 0 || displayName.Length > 64))
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'displayName' property must be 1 to 64 characters.", "properties.displayName"));
        }

        var state = ReadString(properties, "state", errors);
        if (state is not null && !States.Contains(state, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The 'state' property must be one of {string.Join(", ", States)}.", "properties.state"));
        }

        subscriptionId = parsed.ToString("D");
        var key = ResourceKeys.Subscription(subscriptionId);
        var existing = await data.Store.GetAsync(key, context.RequestAborted).ConfigureAwait(false);
        if (existing is null && patch)
        {
            throw ApiErrors.SubscriptionNotFound(subscriptionId);
        }

        if (existing is null && displayName is null)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, "The 'displayName' property is required to create a subscription.", "properties.displayName"));
        }

        if (errors.Count > 0)
        {
            throw ApiException.FromValidation(errors);
        }

        JsonObject document;
        if (existing is null)
        {
            var id = parsed.ToString();
            document = new JsonObject
            {
                ["id"] = "/subscriptions/" + id,
                ["subscriptionId"] = id,
                ["tenantId"] = caller.TenantId,
                ["displayName"] = displayName,
                ["state"] = Canonical(state) ?? "Enabled",
                ["authorizationSource"] = "RoleBased",
                ["managedByTenants"] = new JsonArray(),
                ["subscriptionPolicies"] = new JsonObject
                {
                    ["locationPlacementId"] = "Holdfast_" + data.Options.Location,
                    ["quotaId"] = "Holdfast_Default",
                    ["spendingLimit"] = "Off",
                },
            };
        }
        else
        {
            document = JsonNode.Parse(existing.Value.Span)!.AsObject();
            if (!string.Equals(document["tenantId"]?.GetValue<string>(), caller.TenantId, StringComparison.OrdinalIgnoreCase))
            {
                throw ApiErrors.SubscriptionNotFound(subscriptionId);
            }

            if (displayName is not null)
            {
                document["displayName"] = displayName;
            }

            if (state is not null)
            {
                document["state"] = Canonical(state);
            }
        }

        var bytes = Encoding.UTF8.GetBytes(document.ToJsonString());
        var status = existing is null ? StatusCodes.Status201Created : StatusCodes.Status200OK;
        var result = await data.CommitAsync(
            context,
            new TxnRequest([existing is null ? Compare.Absent(key) : Compare.ModRevisionIs(key, existing.ModRevision)], [TxnOp.Put(key, bytes)]),
            status).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw ApiErrors.Conflict($"The subscription '{subscriptionId}' was changed concurrently; retry the request.");
        }

        await directory.WaitForRevisionAsync(result.Revision, context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, status, Render(bytes)).ConfigureAwait(false);
    }

    private static JsonObject Render(ReadOnlyMemory<byte> stored)
    {
        var subscription = JsonNode.Parse(stored.Span)!.AsObject();
        var id = subscription["subscriptionId"]!.GetValue<string>();
        return new JsonObject
        {
            ["id"] = Collection + "/" + id,
            ["name"] = id,
            ["type"] = Namespace + "/subscriptions",
            ["properties"] = new JsonObject
            {
                ["subscriptionId"] = id,
                ["displayName"] = subscription["displayName"]?.DeepClone(),
                ["state"] = subscription["state"]?.DeepClone(),
                ["tenantId"] = subscription["tenantId"]?.DeepClone(),
            },
        };
    }

    private static string? Canonical(string? state) => state is null ? null : States.First(s => s.Equals(state, StringComparison.OrdinalIgnoreCase));

    private static string? ReadString(JsonObject properties, string name, List<ApiError> errors)
    {
        var node = properties[name];
        if (node is null || node.GetValueKind() == JsonValueKind.Null)
        {
            return null;
        }

        if (node.GetValueKind() != JsonValueKind.String)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The '{name}' property must be a string.", "properties." + name));
            return null;
        }

        return node.GetValue<string>();
    }

    private static (ArmData Data, RequestAuthorizer Authorizer, SubscriptionDirectory Directory) Services(HttpContext context) =>
        (context.RequestServices.GetRequiredService<ArmData>(), context.RequestServices.GetRequiredService<RequestAuthorizer>(), context.RequestServices.GetRequiredService<SubscriptionDirectory>());
}
