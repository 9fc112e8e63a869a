using System.Net;
using Holdfast.Identity.Authorization;
using Holdfast.Identity.Tokens;
using Holdfast.Resources.Errors;
using Holdfast.Server.Arm;
using Holdfast.Server.Identity;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Authorization;

/// <summary>
/// Authorizes one request against the RBAC action it performs at a scope (<c>/</c> for operator APIs). Every
/// endpoint that is not anonymous calls <see cref="AuthorizeAsync"/> once it knows its action and scope, before it
/// reads or writes anything; the action and scope are kept on <see cref="ArmRequest"/> for the activity log, and the
/// ARM pipeline refuses to answer a non-anonymous request that finished without it. Evaluation reads the in-memory
/// <see cref="RoleDirectory"/> and <see cref="PrincipalDirectory"/> only: the caller's object id plus its groups,
/// against every assignment at the scope or above (<see cref="AccessEvaluator"/>, deny by default).
/// </summary>
internal sealed class RequestAuthorizer(RoleDirectory roles, PrincipalDirectory principals)
{
    /// <summary>Records the action and scope; throws ARM's 403 <c>AuthorizationFailed</c> when the caller may not perform it.</summary>
    public async ValueTask AuthorizeAsync(HttpContext context, string action, string scope)
    {
        var arm = ArmRequest.Of(context);
        arm.Action = action;
        arm.Scope = scope;
        var caller = arm.RequirePrincipal();
        var decision = await CheckAsync(caller, action, scope, context.RequestAborted).ConfigureAwait(false);
        if (!decision.Allowed)
        {
            throw Denied(caller, action, scope);
        }
    }

    /// <summary>
    /// Records a decision for what every authenticated caller may do about itself (its own permissions), as in Azure;
    /// there is nothing to deny.
    /// </summary>
    public static void RecordSelfService(HttpContext context, string action, string scope)
    {
        var arm = ArmRequest.Of(context);
        arm.Action = action;
        arm.Scope = scope;
    }

    /// <summary>
    /// Subscription reads as Azure answers them: allowed with <c>Microsoft.Resources/subscriptions/read</c> there, or
    /// when the caller holds any role inside the subscription (a Reader of one group still sees its subscription).
    /// </summary>
    public async ValueTask AuthorizeSubscriptionReadAsync(HttpContext context, string subscriptionId)
    {
        const string action = "Microsoft.Resources/subscriptions/read";
        var scope = "/subscriptions/" + subscriptionId;
        var arm = ArmRequest.Of(context);
        arm.Action = action;
        arm.Scope = scope;
        var caller = arm.RequirePrincipal();
        if (!await CanSeeSubscriptionAsync(caller, subscriptionId, context.RequestAborted).ConfigureAwait(false))
        {
            throw Denied(caller, action, scope);
        }
    }

    /// <summary>True when the caller holds some role at, above or below the subscription (what <c>GET /subscriptions</c> lists).</summary>
    public async ValueTask<bool> CanSeeSubscriptionAsync(TokenPrincipal caller, string subscriptionId, CancellationToken cancellationToken)
    {
        var scope = "/subscriptions/" + subscriptionId;
        var ids = await PrincipalIdsAsync(caller, cancellationToken).ConfigureAwait(false);
        return roles.AssignmentsOf(ids).Any(a =>
            (Scopes.Contains(a.Scope, scope) || Scopes.Contains(scope, a.Scope))
            && roles.FindRole(a.RoleDefinitionId) is { } role
            && (!Scopes.IsRoot(a.Scope) || role.Allows("Microsoft.Resources/subscriptions/read")));
    }

    /// <summary>
    /// True when the caller holds some role at, above or below <paramref name="scope"/>: where it may learn its own
    /// permissions without a read permission there.
    /// </summary>
    public async ValueTask<bool> HoldsRoleAroundAsync(TokenPrincipal caller, string scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var ids = await PrincipalIdsAsync(caller, cancellationToken).ConfigureAwait(false);
        return roles.AssignmentsOf(ids).Any(a =>
            (Scopes.Contains(a.Scope, scope) || Scopes.Contains(scope, a.Scope))
            && roles.FindRole(a.RoleDefinitionId) is not null);
    }

    /// <summary>The decision for <paramref name="caller"/>, without recording anything on the request.</summary>
    public async ValueTask<AccessDecision> CheckAsync(TokenPrincipal caller, string action, string scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var ids = await PrincipalIdsAsync(caller, cancellationToken).ConfigureAwait(false);
        return AccessEvaluator.Check(ids, action, scope, roles.AssignmentsOf(ids), roles.FindRole);
    }

    /// <summary>
    /// The caller's access, evaluated synchronously item by item: for lists that, as ARM's, show only what the caller
    /// may read when it may not read the whole collection.
    /// </summary>
    public async ValueTask<CallerAccess> AccessOfAsync(TokenPrincipal caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var ids = await PrincipalIdsAsync(caller, cancellationToken).ConfigureAwait(false);
        return new CallerAccess(ids, roles.AssignmentsOf(ids), roles.FindRole);
    }

    /// <summary>
    /// Authorizes listing a collection of <paramref name="subscriptionId"/> as ARM does: null when the caller may perform
    /// <paramref name="action"/> at the subscription (the whole collection); when it only holds roles on some groups or
    /// resources there, its access for checking item by item (the list shows what it may read); otherwise 403.
    /// </summary>
    public async ValueTask<CallerAccess?> AuthorizeListAsync(HttpContext context, string action, string subscriptionId)
    {
        var caller = ArmRequest.Of(context).RequirePrincipal();
        var scope = "/subscriptions/" + subscriptionId;
        var access = await AccessOfAsync(caller, context.RequestAborted).ConfigureAwait(false);
        if (access.Allows(action, scope) || !await CanSeeSubscriptionAsync(caller, subscriptionId, context.RequestAborted).ConfigureAwait(false))
        {
            await AuthorizeAsync(context, action, scope).ConfigureAwait(false);
            return null;
        }

        RecordSelfService(context, action, scope);
        return access;
    }

    /// <summary>The permission blocks that apply to <paramref name="caller"/> at <paramref name="scope"/>.</summary>
    public async ValueTask<IReadOnlyList<RolePermission>> EffectivePermissionsAsync(TokenPrincipal caller, string scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var ids = await PrincipalIdsAsync(caller, cancellationToken).ConfigureAwait(false);
        return AccessEvaluator.EffectivePermissions(ids, scope, roles.AssignmentsOf(ids), roles.FindRole);
    }

    public static ApiException Denied(TokenPrincipal caller, string action, string scope) =>
        new(HttpStatusCode.Forbidden, ArmErrorCodes.AuthorizationFailed,
            $"The client '{(string.IsNullOrEmpty(caller.AppId) ? caller.ObjectId : caller.AppId)}' with object id '{caller.ObjectId}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.");

    private async ValueTask<IReadOnlyList<string>> PrincipalIdsAsync(TokenPrincipal caller, CancellationToken cancellationToken)
    {
        await roles.WaitLoadedAsync(cancellationToken).ConfigureAwait(false);
        var groups = await principals.GroupsOfAsync(caller.ObjectId, cancellationToken).ConfigureAwait(false);
        return groups.Count == 0 ? [caller.ObjectId] : [caller.ObjectId, .. groups];
    }
}

/// <summary>One caller's assignments, captured once, for per-item checks in lists.</summary>
internal sealed class CallerAccess(IReadOnlyList<string> principalIds, IReadOnlyList<RoleAssignment> assignments, Func<string, RoleDefinition?> findRole)
{
    public bool Allows(string action, string scope) => AccessEvaluator.Check(principalIds, action, scope, assignments, findRole).Allowed;
}
