using Holdfast.Server.Arm;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Authorization;

/// <summary>
/// Authorizes one request against the RBAC action it performs at a scope (<c>/</c> for operator APIs). Every
/// endpoint that is not anonymous calls <see cref="AuthorizeAsync"/> once it knows its action and scope, before it
/// reads or writes anything; the action and scope are kept on <see cref="ArmRequest"/> for the activity log.
/// </summary>
internal sealed class RequestAuthorizer(TimeProvider timeProvider)
{
    /// <summary>Records the action and scope; throws ARM's 403 <c>AuthorizationFailed</c> when the caller may not perform it.</summary>
    public ValueTask AuthorizeAsync(HttpContext context, string action, string scope)
    {
        var arm = ArmRequest.Of(context);
        arm.Action = action;
        arm.Scope = scope;

        // Placeholder until role evaluation lands: every authenticated caller is allowed.
        _ = timeProvider;
        return ValueTask.CompletedTask;
    }
}
