using System.Net;
using System.Text.Json;
using Holdfast.Audit.Chain;
using Holdfast.Resources.Errors;
using Holdfast.Server.Audit;
using Holdfast.Server.Fabric;
using Holdfast.State;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Agents;

/// <summary>
/// Activity-log records of the agent port's identity events, which never pass the ARM pipeline: a join and a
/// certificate renewal ride as one more operation in the transaction that registers the agent or moves its pin
/// (<see cref="PendingOp"/>), and a refused join or renewal is stored durably before the refusal is answered
/// (<see cref="RecordRefusalAsync"/>), as refused ARM requests are. Operations are in the <c>Holdfast.Fabric</c>
/// namespace at the host's fleet id (tenant level: no subscription); the caller is the agent, which has no principal,
/// so the description names the host and certificate.
/// </summary>
internal sealed partial class AgentAudit(IStateStore store, AuditChainSignal signal, TimeProvider time, ILogger<AgentAudit> logger)
{
    /// <summary>An agent joined with a one-time token (or was refused).</summary>
    public const string JoinAction = FabricApi.Namespace + "/hosts/agentJoin/action";

    /// <summary>An agent renewed its client certificate (or was refused).</summary>
    public const string RenewAction = FabricApi.Namespace + "/hosts/renewAgentCertificate/action";

    /// <summary>One agent request's identity for the log: its own request and correlation id, and the client's address.</summary>
    public sealed record Request(string RequestId, string CorrelationId, string? ClientAddress)
    {
        public static Request New(string? clientAddress) => new(Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), clientAddress);
    }

    /// <summary>The operation that stores a successful event's record, for the transaction that makes it happen.</summary>
    public TxnOp PendingOp(Request request, string action, string hostName, string description) =>
        TxnOp.Put(AuditKeys.Pending(request.RequestId), Serialize(Build(request, action, hostName, (int)HttpStatusCode.OK, null, description)));

    /// <summary>Called once that transaction committed: the chainer has work.</summary>
    public void Committed() => signal.Notify();

    /// <summary>
    /// Stores the record of a refused join or renewal and waits until it is durable. Returns false when it could not be
    /// stored (logged): the caller must then not answer the refusal as if it were recorded.
    /// </summary>
    public async Task<bool> RecordRefusalAsync(Request request, string action, string? hostName, ApiException refusal, string description)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        var record = Build(request, action, hostName, (int)refusal.StatusCode, refusal.Code, $"{description} refused ({refusal.Code}): {Clip(refusal.Message)}");
        try
        {
            // Never cancelled by the agent going away: the attempt is logged whether or not anyone reads the answer.
            await store.PutAsync(AuditKeys.Pending(request.RequestId), Serialize(record), null, CancellationToken.None).ConfigureAwait(false);
            signal.Notify();
            return true;
        }
        catch (StateStoreException ex)
        {
            LogRecordFailed(logger, ex, request.CorrelationId);
            return false;
        }
    }

    /// <summary>The fleet id of a host, or of the hosts collection when the request named no valid host.</summary>
    public static string ResourceIdOf(string? hostName) =>
        hostName is { Length: > 0 } name ? FabricApi.ResourceId("hosts", name.ToLowerInvariant()) : "/providers/" + FabricApi.Namespace + "/hosts";

    private AuditRecord Build(Request request, string action, string? hostName, int statusCode, string? subStatus, string description) => new()
    {
        EventTimestamp = time.GetUtcNow(),
        TenantId = string.Empty,
        CallerAppId = string.Empty,
        CallerObjectId = string.Empty,
        Operation = action,
        ResourceId = ResourceIdOf(hostName),
        Status = statusCode < 400 ? AuditStatuses.Succeeded : AuditStatuses.Failed,
        SubStatus = subStatus,
        HttpStatusCode = statusCode,
        CorrelationId = request.CorrelationId,
        ClientAddress = request.ClientAddress,
        Level = statusCode >= 400 ? AuditLevels.Error : AuditLevels.Informational,
        Description = description,
    };

    private static string Clip(string value) => value.Length <= 256 ? value : value[..256] + "…";

    private static byte[] Serialize(AuditRecord record) => JsonSerializer.SerializeToUtf8Bytes(record, AuditServerJson.Default.AuditRecord);

    [LoggerMessage(Level = LogLevel.Error, Message = "The activity-log record of agent request {CorrelationId} could not be stored")]
    private static partial void LogRecordFailed(ILogger logger, Exception exception, string correlationId);
}
