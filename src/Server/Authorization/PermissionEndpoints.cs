using System.Text.Json.Nodes;
using Holdfast.Server.Arm;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Authorization;

/// <summary>
/// <c>GET {scope}/providers/Microsoft.Authorization/permissions</c>: the caller's own effective permission blocks there
/// (one per role it holds at the scope or above, through itself or its groups), as Azure's Permissions API answers.
/// A caller may ask about itself wherever it holds some role at, above or below the scope (then the scope must exist);
/// elsewhere it is refused (403 <c>AuthorizationFailed</c>) before anything is read, so the answer reveals nothing.
/// </summary>
internal static class PermissionEndpoints
{
    public const string Action = "Microsoft.Authorization/permissions/read";

    public static async Task ListAsync(HttpContext context, AuthorizationScope scope)
    {
        var authorizer = context.RequestServices.GetRequiredService<RequestAuthorizer>();
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        RequestAuthorizer.RecordSelfService(context, Action, scope.Path);

        // Before the scope is read: a caller with no role at, above or below it learns nothing about what exists there.
        if (!await authorizer.HoldsRoleAroundAsync(caller, scope.Path, context.RequestAborted).ConfigureAwait(false))
        {
            throw RequestAuthorizer.Denied(caller, Action, scope.Path);
        }

        var blocks = await authorizer.EffectivePermissionsAsync(caller, scope.Path, context.RequestAborted).ConfigureAwait(false);
        await scope.EnsureExistsAsync(data, context.RequestAborted).ConfigureAwait(false);
        var value = RoleDocuments.RenderPermissions(blocks, AuthorizationEndpoints.ApiVersionOf(context));
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = value }).ConfigureAwait(false);
    }
}
