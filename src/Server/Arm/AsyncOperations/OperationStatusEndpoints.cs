using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Resources.Errors;
using Holdfast.Server.Authorization;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Arm;

/// <summary>
/// Provider operation monitors under <c>/subscriptions/{id}/providers/{ns}/locations/{loc}/</c>:
/// <c>operationStatuses/{id}</c> (and Compute's <c>operations/{id}</c>) answer 200 with
/// <c>{"id","name","status","startTime","endTime","error"}</c>; <c>operationResults/{id}</c> answers 202 while running and
/// 200 (empty) when done. Both ignore the api-version the SDK rewrites into poll URLs, and are authorized as a read
/// of the operation's resource in its own namespace; an operation the caller may not poll is not found.
/// </summary>
internal static class OperationStatusEndpoints
{
    public static async Task WriteAsync(HttpContext context, ArmData data, RequestAuthorizer authorizer, string providerNamespace, string subscriptionId, string kind, string operationId)
    {
        var operation = await OperationLookup.FindAsync(data, subscriptionId, operationId, context.RequestAborted).ConfigureAwait(false);

        // Authorized where the operation's resource lives, in its resource's namespace (never the URL's alone): whoever
        // may read that resource may poll its operations; anyone else, or a poll through another namespace, finds nothing.
        var action = $"{providerNamespace}/locations/{kind}/read";
        if (!string.Equals(OperationLookup.NamespaceOf(operation), providerNamespace, StringComparison.OrdinalIgnoreCase))
        {
            RequestAuthorizer.RecordSelfService(context, action, operation.ResourceId);
            throw OperationLookup.NotFound(operationId);
        }

        await OperationLookup.AuthorizePollAsync(context, authorizer, action, operation, operationId).ConfigureAwait(false);
        if (kind.Equals("operationResults", StringComparison.OrdinalIgnoreCase))
        {
            if (!operation.IsTerminal)
            {
                context.Response.StatusCode = StatusCodes.Status202Accepted;
                context.Response.Headers.Location = ArmResponses.AbsoluteUrl(context, context.Request.Path + context.Request.QueryString);
                return;
            }

            if (operation.Error is { } error)
            {
                throw new ApiException(HttpStatusCode.Conflict, error.Code, error.Message, error.Target, error.Details);
            }

            context.Response.StatusCode = StatusCodes.Status200OK;
            return;
        }

        if (!kind.Equals("operationStatuses", StringComparison.OrdinalIgnoreCase) && !kind.Equals("operations", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.NotFound, ArmErrorCodes.InvalidResourceType, $"The resource type 'locations/{kind}' could not be found.");
        }

        var body = new JsonObject
        {
            ["id"] = operation.Id,
            ["name"] = operation.Name,
            ["status"] = operation.Status,
            ["startTime"] = operation.StartTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        };
        if (operation.EndTime is { } end)
        {
            body["endTime"] = end.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        }

        if (operation.Error is { } failure)
        {
            body["error"] = new JsonObject { ["code"] = failure.Code, ["message"] = failure.Message };
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, body).ConfigureAwait(false);
    }
}
