using System.Net;
using Holdfast.Providers.Authorization;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Server.Arm;
using Holdfast.Server.Arm.Subscriptions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Authorization;

/// <summary>
/// Routes <c>{scope}/providers/Microsoft.Authorization/{roleAssignments|roleDefinitions|permissions}[/{name}]</c> at the
/// root, subscription and resource-group scopes; resource scopes arrive through the generic resource endpoints
/// (<see cref="HandleAtResourceAsync"/>), since their paths are extension paths below a resource.
/// </summary>
internal static class AuthorizationEndpoints
{
    private static readonly string[] ItemMethods = [HttpMethods.Get, HttpMethods.Put, HttpMethods.Delete];

    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: AuthorizationProvider.ApiVersions);
        const string provider = "/providers/Microsoft.Authorization/";
        foreach (var prefix in new[] { string.Empty, "/subscriptions/{subscriptionId}", "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}" })
        {
            routes.MapGet(prefix + provider + "{collection}", (HttpContext c, string collection) => RouteAsync(c, collection, null)).WithMetadata(metadata);
            routes.MapMethods(prefix + provider + "{collection}/{name}", ItemMethods, (HttpContext c, string collection, string name) => RouteAsync(c, collection, name)).WithMetadata(metadata);
        }
    }

    /// <summary>An extension path below a resource: <c>…/{type}/{name}/providers/Microsoft.Authorization/{rest}</c>.</summary>
    public static async Task HandleAtResourceAsync(HttpContext context, SubscriptionView subscription, ResourceId resource, string extensionNamespace, string rest)
    {
        if (!extensionNamespace.Equals(AuthorizationProvider.Namespace, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.NotFound, ArmErrorCodes.InvalidResourceNamespace, $"The resource namespace '{extensionNamespace}' is not available as an extension of '{resource.ResourceType}'.");
        }

        var apiVersion = context.Request.Query["api-version"].ToString();
        if (apiVersion.Length == 0)
        {
            throw ApiErrors.MissingApiVersion();
        }

        if (!AuthorizationProvider.ApiVersions.Contains(apiVersion, StringComparer.OrdinalIgnoreCase))
        {
            throw ApiErrors.InvalidApiVersion(apiVersion, AuthorizationProvider.Namespace, AuthorizationProvider.ApiVersions);
        }

        var parts = rest.Split('/');
        if (parts.Length is < 1 or > 2 || parts.Any(p => p.Length == 0))
        {
            throw NotFound(rest);
        }

        await DispatchAsync(context, AuthorizationScope.ForResource(subscription, resource), parts[0], parts.Length == 2 ? parts[1] : null).ConfigureAwait(false);
    }

    private static async Task RouteAsync(HttpContext context, string collection, string? name)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        var subscriptionId = context.GetRouteValue("subscriptionId") as string;
        var resourceGroupName = context.GetRouteValue("resourceGroupName") as string;
        var scope = await AuthorizationScope.ResolveAsync(data, caller, subscriptionId, resourceGroupName, context.RequestAborted).ConfigureAwait(false);
        await DispatchAsync(context, scope, collection, name).ConfigureAwait(false);
    }

    private static Task DispatchAsync(HttpContext context, AuthorizationScope scope, string collection, string? name)
    {
        var method = context.Request.Method;
        if (collection.Equals("roleAssignments", StringComparison.OrdinalIgnoreCase))
        {
            return name is null
                ? (HttpMethods.IsGet(method) ? RoleAssignmentEndpoints.ListAsync(context, scope) : throw MethodNotAllowed(method))
                : method switch
                {
                    _ when HttpMethods.IsGet(method) => RoleAssignmentEndpoints.GetAsync(context, scope, name),
                    _ when HttpMethods.IsPut(method) => RoleAssignmentEndpoints.PutAsync(context, scope, name),
                    _ when HttpMethods.IsDelete(method) => RoleAssignmentEndpoints.DeleteAsync(context, scope, name),
                    _ => throw MethodNotAllowed(method),
                };
        }

        if (collection.Equals("roleDefinitions", StringComparison.OrdinalIgnoreCase))
        {
            return name is null
                ? (HttpMethods.IsGet(method) ? RoleDefinitionEndpoints.ListAsync(context, scope) : throw MethodNotAllowed(method))
                : method switch
                {
                    _ when HttpMethods.IsGet(method) => RoleDefinitionEndpoints.GetAsync(context, scope, name),
                    _ when HttpMethods.IsPut(method) => RoleDefinitionEndpoints.PutAsync(context, scope, name),
                    _ when HttpMethods.IsDelete(method) => RoleDefinitionEndpoints.DeleteAsync(context, scope, name),
                    _ => throw MethodNotAllowed(method),
                };
        }

        if (collection.Equals("permissions", StringComparison.OrdinalIgnoreCase) && name is null)
        {
            return HttpMethods.IsGet(method) ? PermissionEndpoints.ListAsync(context, scope) : throw MethodNotAllowed(method);
        }

        throw NotFound(name is null ? collection : collection + "/" + name);
    }

    /// <summary>The api-version the request carries (already validated against <see cref="AuthorizationProvider.ApiVersions"/>).</summary>
    public static string ApiVersionOf(HttpContext context) => context.Request.Query["api-version"].ToString();

    /// <summary>What the role-assignment and role-definition endpoints use.</summary>
    public static (ArmData Data, RequestAuthorizer Authorizer, RoleDirectory Roles) Services(HttpContext context) =>
        (context.RequestServices.GetRequiredService<ArmData>(), context.RequestServices.GetRequiredService<RequestAuthorizer>(), context.RequestServices.GetRequiredService<RoleDirectory>());

    private static ApiException MethodNotAllowed(string method) =>
        new(HttpStatusCode.MethodNotAllowed, ArmErrorCodes.MethodNotAllowed, $"The requested resource does not support http method '{method}'.");

    private static ApiException NotFound(string path) =>
        new(HttpStatusCode.NotFound, ArmErrorCodes.InvalidResourceType, $"The resource type '{path}' could not be found in the namespace '{AuthorizationProvider.Namespace}'.");
}
