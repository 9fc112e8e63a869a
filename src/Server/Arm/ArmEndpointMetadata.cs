using Holdfast.Server.Arm.Throttling;

namespace Holdfast.Server.Arm;

/// <summary>
/// Declares how the ARM pipeline treats an endpoint: whether it is anonymous (token and discovery documents only),
/// which api-versions it accepts (null: the handler checks, as generic resource types do; empty: any or none), and
/// whether it is throttled.
/// </summary>
internal sealed record ArmEndpointMetadata(bool Anonymous = false, IReadOnlyList<string>? ApiVersions = null, bool IgnoreApiVersion = false)
{
    public RequestClass? ClassOverride { get; init; }

    /// <summary>Whether the pipeline checks that the route's subscription exists and belongs to the caller's tenant.</summary>
    public bool ChecksSubscription { get; init; } = true;
}
