using System.Net;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Server.Authorization;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Arm;

/// <summary>
/// Finds an operation for a status poll and authorizes the poll; one owned by another subscription, or one the caller
/// may not poll, is reported as not found.
/// </summary>
internal static class OperationLookup
{
    public static async Task<OperationRecord> FindAsync(ArmData data, string subscriptionId, string operationId, CancellationToken cancellationToken)
    {
        var kv = await data.Store.GetAsync(ResourceKeys.Operation(operationId), cancellationToken).ConfigureAwait(false);
        var operation = kv is null ? null : OperationRecord.Deserialize(kv.Value, data.Schemas.Supported(SchemaLevels.Operation));
        if (operation is null || !string.Equals(operation.SubscriptionId, subscriptionId, StringComparison.OrdinalIgnoreCase))
        {
            throw NotFound(operationId);
        }

        return operation;
    }

    /// <summary>
    /// Authorizes a poll as <paramref name="action"/> on the operation's resource. A caller who may not poll it is told
    /// the operation does not exist (the same 404 as an unknown id), so a poll reveals neither the operation nor its resource.
    /// </summary>
    public static async Task AuthorizePollAsync(HttpContext context, RequestAuthorizer authorizer, string action, OperationRecord operation, string operationId)
    {
        var decision = await authorizer.CheckAsync(ArmRequest.Of(context).RequirePrincipal(), action, operation.ResourceId, context.RequestAborted).ConfigureAwait(false);
        if (!decision.Allowed)
        {
            RequestAuthorizer.RecordSelfService(context, action, operation.ResourceId);
            throw NotFound(operationId);
        }

        await authorizer.AuthorizeAsync(context, action, operation.ResourceId).ConfigureAwait(false);
    }

    /// <summary>The provider namespace of the operation's resource (<c>Microsoft.Network</c>), or null for a group or subscription.</summary>
    public static string? NamespaceOf(OperationRecord operation) => operation.ProviderNamespace;

    public static ApiException NotFound(string operationId) =>
        new(HttpStatusCode.NotFound, ArmErrorCodes.OperationNotFound, $"The operation '{operationId}' could not be found.");
}
