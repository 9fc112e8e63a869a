using System.Text.Json;
using Holdfast.Audit.Chain;
using Holdfast.Resources.Ids;
using Holdfast.Server.Arm;
using Holdfast.State;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Audit;

/// <summary>
/// Turns a request into its pending activity-log record (<see cref="AuditKeys.Pending"/>): either one more operation in
/// the request's own write transaction (<see cref="PendingOp"/>), so no write is acknowledged without its record, or,
/// for a request that ends without such a write but must be logged (<see cref="MustRecord"/>), a durable write of its
/// own before the response goes out (<see cref="RecordAsync"/>). <see cref="AuditChainer"/> chains them.
/// </summary>
internal sealed partial class AuditRecorder(IStateStore store, TimeProvider timeProvider, AuditChainSignal signal, ILogger<AuditRecorder> logger)
{
    /// <summary>
    /// Whether a request that did not record itself through its write must still be logged: every request that is
    /// not a read (writes, deletes and actions, failed or not), and every refused request (401, 403) whatever the method.
    /// Successful reads are not logged, as in Azure's activity log.
    /// </summary>
    public static bool MustRecord(string method, int statusCode) =>
        statusCode is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden
        || !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method));

    /// <summary>The operation that stores the request's record, for the request's own transaction.</summary>
    public TxnOp PendingOp(HttpContext context, int statusCode) =>
        TxnOp.Put(AuditKeys.Pending(ArmRequest.Of(context).RequestId), Serialize(Build(context, statusCode, subStatus: null)));

    /// <summary>Called once the request's transaction committed: the chainer has work.</summary>
    public void Committed(HttpContext context)
    {
        ArmRequest.Of(context).AuditRecorded = true;
        signal.Notify();
    }

    /// <summary>
    /// Writes the record of a request that ended without a recorded write, and waits until it is durable. Never
    /// cancelled by the client going away: the attempt is logged whether or not anyone reads the answer. Returns false
    /// when the record could not be stored (the failure is logged): the caller must then not give the answer it meant
    /// to, because a request that must be logged is never answered without its durable record.
    /// </summary>
    public async Task<bool> RecordAsync(HttpContext context, int statusCode, string? errorCode)
    {
        var arm = ArmRequest.Of(context);
        if (arm.AuditRecorded)
        {
            return true;
        }

        try
        {
            var record = Build(context, statusCode, errorCode);
            await store.PutAsync(AuditKeys.Pending(arm.RequestId), Serialize(record), null, CancellationToken.None).ConfigureAwait(false);
            arm.AuditRecorded = true;
            signal.Notify();
            return true;
        }
        catch (StateStoreException ex)
        {
            LogRecordFailed(logger, ex, arm.CorrelationId);
            return false;
        }
    }

    /// <summary>
    /// Records a refused sign-in (any token-endpoint error): the tenant it named, the client id and user name it
    /// claimed (untrusted, so kept in the description, never as the caller), the OAuth2 error, and the client's
    /// address. Returns false when the record could not be stored; the caller must not answer as if it were.
    /// </summary>
    public async Task<bool> RecordSignInFailureAsync(HttpContext context, int statusCode, string error, string tenantId, string? clientId, string? userName)
    {
        var arm = ArmRequest.Of(context);
        arm.Action ??= SignInAction;
        arm.Scope ??= "/";
        var record = Build(context, statusCode, error) with
        {
            TenantId = Guid.TryParse(tenantId, out var tenant) ? tenant.ToString("D") : string.Empty,
            Description = $"Sign-in refused ({error}): client '{Clip(clientId)}', user '{Clip(userName)}', tenant '{Clip(tenantId)}'",
        };
        try
        {
            await store.PutAsync(AuditKeys.Pending(arm.RequestId), Serialize(record), null, CancellationToken.None).ConfigureAwait(false);
            arm.AuditRecorded = true;
            signal.Notify();
            return true;
        }
        catch (StateStoreException ex)
        {
            LogRecordFailed(logger, ex, arm.CorrelationId);
            return false;
        }
    }

    /// <summary>The operation name of a sign-in (a token request) in the activity log.</summary>
    public const string SignInAction = "Holdfast.Identity/signIns/action";

    private static string Clip(string? value) => value is null ? string.Empty : value.Length <= 128 ? value : value[..128] + "…";

    private AuditRecord Build(HttpContext context, int statusCode, string? subStatus)
    {
        var arm = ArmRequest.Of(context);
        var request = context.Request;
        var (derivedAction, derivedScope) = OperationNames.Derive(request.Method, request.Path.Value ?? "/");
        var scope = arm.Scope ?? derivedScope;
        string? subscriptionId = null;
        string? resourceGroup = null;
        if (ResourceId.TryParse(scope, out var id, out _))
        {
            subscriptionId = id.SubscriptionId;
            resourceGroup = id.ResourceGroupName;
        }
        else if (context.Request.RouteValues.TryGetValue("subscriptionId", out var routeSubscription) && routeSubscription is string s)
        {
            subscriptionId = s;
        }

        var principal = arm.Principal;
        return new AuditRecord
        {
            EventTimestamp = timeProvider.GetUtcNow(),
            TenantId = principal?.TenantId ?? string.Empty,
            CallerAppId = principal?.AppId ?? string.Empty,
            CallerObjectId = principal?.ObjectId ?? string.Empty,
            Operation = arm.Action ?? derivedAction,
            ResourceId = scope,
            SubscriptionId = subscriptionId,
            ResourceGroupName = resourceGroup,
            Status = statusCode switch
            {
                StatusCodes.Status202Accepted => AuditStatuses.Accepted,
                < 400 => AuditStatuses.Succeeded,
                _ => AuditStatuses.Failed,
            },
            SubStatus = subStatus,
            HttpStatusCode = statusCode,
            CorrelationId = arm.CorrelationId,
            ClientAddress = context.Connection.RemoteIpAddress?.ToString(),
            Level = statusCode >= 400 ? AuditLevels.Error : AuditLevels.Informational,
            Description = request.Method.ToUpperInvariant(),
        };
    }

    private static byte[] Serialize(AuditRecord record) => JsonSerializer.SerializeToUtf8Bytes(record, AuditServerJson.Default.AuditRecord);

    [LoggerMessage(Level = LogLevel.Error, Message = "The activity-log record of request {CorrelationId} could not be stored")]
    private static partial void LogRecordFailed(ILogger logger, Exception exception, string correlationId);
}
