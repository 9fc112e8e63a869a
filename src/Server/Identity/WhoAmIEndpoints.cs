using System.Text.Json.Nodes;
using Holdfast.Server.Arm;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Holdfast.Server.Identity;

/// <summary>
/// <c>GET /holdfast/whoami</c>: the authenticated caller as the server sees it (tenant, object id, app id), like
/// <c>az account show</c>. It runs the full pipeline and touches no store, so benchmarks use it as the HTTP ceiling.
/// </summary>
internal static class WhoAmIEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/holdfast/whoami", WriteAsync).WithMetadata(new ArmEndpointMetadata(IgnoreApiVersion: true, AuthenticatedOnly: true));
    }

    private static Task WriteAsync(HttpContext context)
    {
        var caller = ArmRequest.Of(context).RequirePrincipal();
        return ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject
        {
            ["tenantId"] = caller.TenantId,
            ["objectId"] = caller.ObjectId,
            ["appId"] = caller.AppId,
            ["displayName"] = caller.DisplayName,
        });
    }
}
