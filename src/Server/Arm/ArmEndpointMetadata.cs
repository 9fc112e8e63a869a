namespace Holdfast.Server.Arm;

/// <summary>
/// Declares how the ARM pipeline treats an endpoint: whether it is anonymous (token and discovery documents only),
/// which api-versions it accepts (null: the handler checks, as generic resource types do; empty: any or none), and
/// whether it is throttled.
/// </summary>
internal sealed record ArmEndpointMetadata(bool Anonymous = false, IReadOnlyList<string>? ApiVersions = null, bool IgnoreApiVersion = false);
