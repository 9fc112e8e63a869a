using Holdfast.Identity.Tokens;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Arm;

/// <summary>Per-request ARM facts set by the pipeline: the authenticated caller, the ids echoed in headers, and what the request does (action, scope) for authorization and the activity log.</summary>
internal sealed class ArmRequest
{
    public required string RequestId { get; init; }

    public required string CorrelationId { get; init; }

    public TokenPrincipal? Principal { get; set; }

    /// <summary>The RBAC action this request performs (e.g. <c>Microsoft.Resources/subscriptions/resourceGroups/write</c>), once known.</summary>
    public string? Action { get; set; }

    /// <summary>The scope <see cref="Action"/> is checked at (<c>/</c> for operator APIs), once known.</summary>
    public string? Scope { get; set; }

    /// <summary>True once the request failed with an ARM error (answered by the pipeline's error path).</summary>
    public bool Failed { get; set; }

    /// <summary>True once the request's own write transaction carried its activity-log record.</summary>
    public bool AuditRecorded { get; set; }

    public static ArmRequest Of(HttpContext context) =>
        context.Features.Get<ArmRequest>() ?? throw new InvalidOperationException("The ARM pipeline did not run for this request.");

    public TokenPrincipal RequirePrincipal() => Principal ?? throw new InvalidOperationException("This endpoint requires an authenticated caller.");
}
