namespace Holdfast.Audit.Chain;

/// <summary>
/// What happened, as the request pipeline knows it when a write completes: an <see cref="AuditEntry"/> before it
/// takes its place in the chain. Fields follow the ARM activity log's event data (caller, operation, scope,
/// status, correlation id), so an activity-log API can be served from entries without a translation table.
/// </summary>
public sealed record AuditRecord
{
    /// <summary>When the operation happened (stored as UTC).</summary>
    public required DateTimeOffset EventTimestamp { get; init; }

    public required string TenantId { get; init; }

    /// <summary>The caller's application (client) id, the token's <c>appid</c>.</summary>
    public required string CallerAppId { get; init; }

    /// <summary>The caller's object id, the token's <c>oid</c>.</summary>
    public required string CallerObjectId { get; init; }

    /// <summary>The ARM action, e.g. <c>Microsoft.Resources/subscriptions/resourceGroups/write</c>.</summary>
    public required string Operation { get; init; }

    /// <summary>The scope acted on: the ARM id of a subscription, resource group or resource, as the caller gave it.</summary>
    public required string ResourceId { get; init; }

    public string? SubscriptionId { get; init; }

    public string? ResourceGroupName { get; init; }

    /// <summary>One of <see cref="AuditStatuses"/>.</summary>
    public required string Status { get; init; }

    /// <summary>A finer status, e.g. the ARM error code of a failed request.</summary>
    public string? SubStatus { get; init; }

    public required int HttpStatusCode { get; init; }

    /// <summary>The request's <c>x-ms-correlation-request-id</c>.</summary>
    public required string CorrelationId { get; init; }

    public string? ClientAddress { get; init; }

    /// <summary>One of <see cref="AuditCategories"/>.</summary>
    public string Category { get; init; } = AuditCategories.Administrative;

    /// <summary>One of <see cref="AuditLevels"/>.</summary>
    public string Level { get; init; } = AuditLevels.Informational;

    public string? Description { get; init; }
}
