using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Server.Arm;
using Holdfast.Server.Arm.ResourceLists;
using Holdfast.State;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Identity;

/// <summary>
/// What the operator-only directory APIs (<c>/providers/Holdfast.Identity/{servicePrincipals|users|groups}</c>) share:
/// the namespace and api-version, the name rule, body reading that reports every problem, and list paging as ARM does it.
/// </summary>
internal static class DirectoryApi
{
    public const string Namespace = "Holdfast.Identity";

    /// <summary>Operator APIs are authorized at the root scope.</summary>
    public const string OperatorScope = "/";

    public static readonly IReadOnlyList<string> ApiVersions = ["2025-01-01"];

    public static readonly ArmEndpointMetadata Metadata = new(ApiVersions: ApiVersions);

    /// <summary>How long a write waits for <see cref="PrincipalDirectory"/> to see it, so a revocation holds from the response on.</summary>
    public static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The namespace as provider discovery lists it (<c>GET /providers</c>), as Microsoft.Resources declares the types it
    /// serves with dedicated endpoints: tenant-level, no location, not served by the generic resource endpoints.
    /// </summary>
    public static ResourceProviderDefinition Provider()
    {
        var handler = new ServedByDirectoryEndpoints();
        return new ResourceProviderDefinition(Namespace,
        [
            .. new[] { ServicePrincipalEndpoints.Type, UserEndpoints.Type, GroupEndpoints.Type }.Select(type => new ResourceTypeDefinition(Namespace, type, ApiVersions, handler)
            {
                Scope = ResourceScope.Tenant,
                RequiresLocation = false,
                HasETag = false,
                IsGeneric = false,
            }),
        ]);
    }

    public static string ResourceId(string type, string name) => $"/providers/{Namespace}/{type}/{name}";

    public static void ValidateName(string name, string type)
    {
        if (NameRule.Default.Validate(name) is { } problem)
        {
            throw ApiErrors.InvalidResourceName(name, $"{Namespace}/{type}", problem);
        }
    }

    public static ApiException NotFound(string type, string name) => ApiErrors.ResourceNotFound($"{Namespace}/{type}", name);

    /// <summary>The body's <c>properties</c> object; a missing or non-object <c>properties</c> is a 400.</summary>
    public static JsonObject Properties(JsonObject body)
    {
        return body["properties"] switch
        {
            JsonObject properties => properties,
            null => throw ApiErrors.InvalidRequestContent("The 'properties' object is required.", "properties"),
            _ => throw ApiErrors.InvalidRequestContent("The 'properties' property must be a JSON object.", "properties"),
        };
    }

    /// <summary>An optional string property (1 to <paramref name="maxLength"/> characters); problems go to <paramref name="errors"/>.</summary>
    public static string? OptionalString(JsonObject owner, string property, string target, int maxLength, List<ApiError> errors)
    {
        var node = owner[property];
        if (node is null)
        {
            return null;
        }

        if (node.GetValueKind() != JsonValueKind.String)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidRequestContent, $"The '{target}' property must be a string.", target));
            return null;
        }

        var value = node.GetValue<string>();
        if (value.Trim().Length == 0 || value.Length > maxLength)
        {
            errors.Add(new ApiError(ArmErrorCodes.InvalidParameter, $"The '{target}' property must be 1 to {maxLength} characters and not blank.", target));
            return null;
        }

        return value;
    }

    /// <summary>Reads one page of a directory prefix and answers <c>{"value":[…],"nextLink"}</c>, projecting each stored record.</summary>
    public static async Task WritePageAsync(HttpContext context, IStateStore store, string prefix, Func<KeyValue, JsonObject> project)
    {
        var query = ListQuery.Parse(context.Request, prefix);
        var (items, continueAfter) = await query.ReadPageAsync(store, prefix, null, context.RequestAborted).ConfigureAwait(false);
        var body = new JsonObject { ["value"] = new JsonArray(items.Select(i => (JsonNode)project(i.Stored)).ToArray()) };
        if (continueAfter is not null)
        {
            body["nextLink"] = ListQuery.NextLink(context, continueAfter);
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, body).ConfigureAwait(false);
    }

    private sealed class ServedByDirectoryEndpoints : ResourceTypeHandler;

    public static ApiException ConcurrentChange(string type, string name) =>
        new(HttpStatusCode.Conflict, ArmErrorCodes.Conflict, $"The {type} '{name}' was modified concurrently; retry the request.");
}
