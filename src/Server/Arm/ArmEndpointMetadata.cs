namespace Holdfast.Server.Arm;

/// <summary>
/// Declares how the ARM pipeline treats an endpoint: whether it is anonymous (token and discovery documents only),
/// which api-versions it accepts (null: the handler checks, as generic resource types do; empty: any or none), and
/// whether it needs only an authenticated caller (<see cref="AuthenticatedOnly"/>: who-am-I and tenant-level provider
/// discovery, as in Azure) rather than an RBAC decision. Every other endpoint must call
/// <c>RequestAuthorizer.AuthorizeAsync</c>; the pipeline answers 500 when one finishes without doing so.
/// </summary>
internal sealed record ArmEndpointMetadata(bool Anonymous = false, IReadOnlyList<string>? ApiVersions = null, bool IgnoreApiVersion = false, bool AuthenticatedOnly = false);
