using Holdfast.Identity.Tokens;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Arm;

/// <summary>Per-request ARM facts set by the pipeline: the authenticated caller and the ids echoed in headers.</summary>
internal sealed class ArmRequest
{
    public required string RequestId { get; init; }

    public required string CorrelationId { get; init; }

    public TokenPrincipal? Principal { get; set; }

    public static ArmRequest Of(HttpContext context) =>
        context.Features.Get<ArmRequest>() ?? throw new InvalidOperationException("The ARM pipeline did not run for this request.");

    public TokenPrincipal RequirePrincipal() => Principal ?? throw new InvalidOperationException("This endpoint requires an authenticated caller.");
}
