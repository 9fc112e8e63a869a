using System.Net;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Arm.Resources;

/// <summary>
/// The generic pipeline every provider type gets: idempotent PUT, PATCH, GET, HEAD, DELETE, lists (per group, per
/// subscription, nested), ETags with If-Match/If-None-Match, <c>provisioningState</c>, <c>systemData</c>, and
/// long-running operations. A write validates, then commits the desired state and its operation in one transaction
/// and answers at once; the resource reconciler does the work from the committed state.
/// </summary>
internal static class ResourceEndpoints
{
    private const string GroupScoped = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}/providers/{providerNamespace}/{**path}";
    private const string SubscriptionScoped = "/subscriptions/{subscriptionId}/providers/{providerNamespace}/{**path}";

    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: null);
        routes.MapMethods(GroupScoped, [HttpMethods.Get, HttpMethods.Head, HttpMethods.Put, HttpMethods.Patch, HttpMethods.Delete, HttpMethods.Post], HandleAsync).WithMetadata(metadata);
        routes.MapMethods(SubscriptionScoped, [HttpMethods.Get], SubscriptionScopedAsync).WithMetadata(metadata with { IgnoreApiVersion = true });
    }

    private static async Task HandleAsync(HttpContext context, string subscriptionId, string resourceGroupName, string providerNamespace, string path)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var caller = ArmRequest.Of(context).RequirePrincipal();
        var method = context.Request.Method;
        var reads = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        var subscription = await data.GetSubscriptionAsync(subscriptionId, caller, context.RequestAborted).ConfigureAwait(false);
        var canonicalSubscription = subscription.SubscriptionId;
        if (ExtensionPath(path) is { } extension)
        {
            // {resource}/providers/{ns}/… is an extension resource of that resource (role assignments, permissions).
            var target = ResourceRoute.Parse(data.Registry, canonicalSubscription, resourceGroupName, providerNamespace, extension.Resource, HttpMethods.Get);
            if (target.Id is null)
            {
                throw new ApiException(HttpStatusCode.NotFound, ArmErrorCodes.InvalidResourceType, $"The path '{path}' does not name a resource.");
            }

            await Authorization.AuthorizationEndpoints.HandleAtResourceAsync(context, subscription, target.Id, extension.Namespace, extension.Remainder).ConfigureAwait(false);
            return;
        }

        var route = ResourceRoute.Parse(data.Registry, canonicalSubscription, resourceGroupName, providerNamespace, path, method);
        await context.RequestServices.GetRequiredService<Authorization.RequestAuthorizer>().AuthorizeAsync(context, ActionOf(route, method), ScopeOf(route, canonicalSubscription, resourceGroupName)).ConfigureAwait(false);
        if (!reads)
        {
            await data.GetWritableSubscriptionAsync(subscriptionId, caller, context.RequestAborted).ConfigureAwait(false);
        }

        var apiVersion = CheckApiVersion(context, route.Type, data.Options.Location);
        var provider = data.Registry.FindProvider(route.Type.ProviderNamespace)!;
        if (!await data.IsRegisteredAsync(canonicalSubscription, provider, context.RequestAborted).ConfigureAwait(false))
        {
            throw new ApiException(HttpStatusCode.Conflict, ArmErrorCodes.MissingSubscriptionRegistration, $"The subscription is not registered to use namespace '{provider.Namespace}'. See https://aka.ms/rps-not-found for how to register subscriptions.", "Summary");
        }

        var (group, groupStored) = await data.GetGroupAsync(canonicalSubscription, resourceGroupName, context.RequestAborted).ConfigureAwait(false);
        var writer = new ResourceWriter(context, data, caller, route, group, groupStored, apiVersion);
        if (route.IsCollection)
        {
            if (!HttpMethods.IsGet(method))
            {
                throw new ApiException(HttpStatusCode.MethodNotAllowed, ArmErrorCodes.MethodNotAllowed, $"The collection '{route.Type.FullType}' does not support http method '{method}'.");
            }

            await ListAsync(context, data, route, canonicalSubscription, resourceGroupName).ConfigureAwait(false);
            return;
        }

        if (route.Action is not null)
        {
            throw new ApiException(HttpStatusCode.NotFound, ArmErrorCodes.InvalidResourceType, $"The action '{route.Action}' is not available on '{route.Type.FullType}'.");
        }

        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
        {
            await GetAsync(context, data, route).ConfigureAwait(false);
        }
        else if (HttpMethods.IsPut(method))
        {
            await writer.PutAsync().ConfigureAwait(false);
        }
        else if (HttpMethods.IsPatch(method))
        {
            await writer.PatchAsync().ConfigureAwait(false);
        }
        else if (HttpMethods.IsDelete(method))
        {
            await writer.DeleteAsync().ConfigureAwait(false);
        }
        else
        {
            throw new ApiException(HttpStatusCode.MethodNotAllowed, ArmErrorCodes.MethodNotAllowed, $"The resource '{route.Type.FullType}' does not support http method '{method}'.");
        }
    }

    private static async Task GetAsync(HttpContext context, ArmData data, ResourceRoute route)
    {
        var kv = await data.Store.GetAsync(ResourceKeys.Resource(route.Id!), context.RequestAborted).ConfigureAwait(false);
        if (kv is null)
        {
            if (HttpMethods.IsHead(context.Request.Method))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            throw ApiErrors.ResourceNotFound(route.Type.FullType, route.Id!.Name);
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.Headers.ETag = ResourceDocument.ETag(kv.ModRevision);
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        var etag = ResourceDocument.ETag(kv.ModRevision);
        context.Response.Headers.ETag = etag;
        if (route.Type.Handler is IResourceExpansion expansion && context.Request.Query["$expand"].ToString() is { Length: > 0 } expand)
        {
            var resource = ResourceDocument.Parse(kv.Value);
            await expansion.ExpandAsync(route.Id!, resource, expand, context.RequestAborted).ConfigureAwait(false);
            await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, route.Type.HasETag ? ResourceDocument.WithETag(resource, etag) : resource).ConfigureAwait(false);
            return;
        }

        await ArmResponses.WriteStoredAsync(context, StatusCodes.Status200OK, kv.Value, route.Type.HasETag ? etag : null).ConfigureAwait(false);
    }

    private static async Task ListAsync(HttpContext context, ArmData data, ResourceRoute route, string subscriptionId, string resourceGroupName)
    {
        var id = route.Parent;
        string prefix;
        if (id is null)
        {
            prefix = ResourceKeys.ResourcesOfType(subscriptionId, resourceGroupName, route.Type.ProviderNamespace, route.Type.Type);
        }
        else
        {
            if (await data.Store.GetAsync(ResourceKeys.Resource(id), context.RequestAborted).ConfigureAwait(false) is null)
            {
                throw new ApiException(HttpStatusCode.NotFound, "ParentResourceNotFound", $"Can not perform requested operation on nested resource. Parent resource '{id.Name}' not found.");
            }

            prefix = ResourceKeys.Resource(id) + "/" + route.Type.Type.Split('/')[^1].ToLowerInvariant() + "/";
        }

        await WritePageAsync(context, data, prefix, route.Type, kv => kv.Key.IndexOf('/', prefix.Length) < 0).ConfigureAwait(false);
    }

    /// <summary><c>GET /subscriptions/{id}/providers/{ns}/…</c>: a type across the subscription, or an operation status monitor.</summary>
    private static async Task SubscriptionScopedAsync(HttpContext context, string subscriptionId, string providerNamespace, string path)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        var canonicalSubscription = subscription.SubscriptionId;
        var segments = path.Split('/');
        var authorizer = context.RequestServices.GetRequiredService<Authorization.RequestAuthorizer>();
        if (segments.Length == 4 && segments[0].Equals("locations", StringComparison.OrdinalIgnoreCase))
        {
            await OperationStatusEndpoints.WriteAsync(context, data, authorizer, providerNamespace, canonicalSubscription, segments[2], segments[3]).ConfigureAwait(false);
            return;
        }

        if (segments.Length != 1 || segments[0].Length == 0)
        {
            throw new ApiException(HttpStatusCode.NotFound, ArmErrorCodes.InvalidResourceType, $"The resource type '{path}' could not be found in the namespace '{providerNamespace}'.");
        }

        var provider = data.Registry.FindProvider(providerNamespace)
            ?? throw new ApiException(HttpStatusCode.NotFound, ArmErrorCodes.InvalidResourceNamespace, $"The resource namespace '{providerNamespace}' is invalid.");
        var type = data.Registry.FindType(provider.Namespace + "/" + segments[0]);
        if (type is null || !type.IsGeneric)
        {
            throw new ApiException(HttpStatusCode.NotFound, ArmErrorCodes.InvalidResourceType, $"The resource type '{segments[0]}' could not be found in the namespace '{provider.Namespace}'.");
        }

        var readAction = type.FullType + "/read";
        // As ARM: a caller with roles on some groups or resources lists only what it may read.
        var access = await authorizer.AuthorizeListAsync(context, readAction, canonicalSubscription).ConfigureAwait(false);
        CheckApiVersion(context, type, data.Options.Location);
        var suffix = "/" + type.ProviderNamespace.ToLowerInvariant() + "/" + type.Type.ToLowerInvariant() + "/";
        var prefix = ResourceKeys.ResourcesOfSubscription(canonicalSubscription);
        await WritePageAsync(context, data, prefix, type, kv => IsTopLevelOfType(kv.Key, prefix.Length, suffix) && (access is null || IsReadable(access, readAction, kv))).ConfigureAwait(false);
    }

    private static async Task WritePageAsync(HttpContext context, ArmData data, string prefix, ResourceTypeDefinition type, Func<KeyValue, bool> include)
    {
        var query = ResourceLists.ListQuery.Parse(context.Request, prefix);
        var (items, continueAfter) = await query.ReadPageAsync(data.Store, prefix, include, context.RequestAborted).ConfigureAwait(false);
        var value = new JsonArray();
        foreach (var (resource, stored) in items)
        {
            value.Add(type.HasETag ? ResourceDocument.WithETag(resource, ResourceDocument.ETag(stored.ModRevision)) : resource);
        }

        var body = new JsonObject { ["value"] = value };
        if (continueAfter is not null)
        {
            body["nextLink"] = ResourceLists.ListQuery.NextLink(context, continueAfter);
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, body).ConfigureAwait(false);
    }

    /// <summary>The RBAC action of a request on a generic type: <c>{type}/read|write|delete</c>, or <c>{type}/{action}/action</c> for a POST action.</summary>
    private static string ActionOf(ResourceRoute route, string method)
    {
        if (route.Action is not null)
        {
            return route.Type.FullType + "/" + route.Action + "/action";
        }

        var verb = HttpMethods.IsGet(method) || HttpMethods.IsHead(method) ? "read" : HttpMethods.IsDelete(method) ? "delete" : "write";
        return route.Type.FullType + "/" + verb;
    }

    /// <summary>The resource for an instance; its parent (or the group) for a collection.</summary>
    private static string ScopeOf(ResourceRoute route, string subscriptionId, string resourceGroupName) =>
        route.Id?.ToString() ?? route.Parent?.ToString() ?? Holdfast.Resources.Ids.ResourceId.ResourceGroup(subscriptionId, resourceGroupName).ToString();

    /// <summary>For <c>{type}/{name}[…]/providers/{ns}/{rest}</c>: the resource part, the extension namespace and the rest.</summary>
    private static (string Resource, string Namespace, string Remainder)? ExtensionPath(string path)
    {
        var at = path.IndexOf("/providers/", StringComparison.OrdinalIgnoreCase);
        if (at <= 0)
        {
            return null;
        }

        var tail = path[(at + "/providers/".Length)..];
        var slash = tail.IndexOf('/', StringComparison.Ordinal);
        return slash <= 0 ? (path[..at], tail, string.Empty) : (path[..at], tail[..slash], tail[(slash + 1)..]);
    }

    private static bool IsReadable(Authorization.CallerAccess access, string action, KeyValue kv)
    {
        var id = ResourceDocument.Parse(kv.Value)["id"]?.GetValue<string>();
        return id is not null && access.Allows(action, id);
    }

    /// <summary>True for <c>{prefix}{rg}/{ns}/{type}/{name}</c> exactly (not nested children).</summary>
    private static bool IsTopLevelOfType(string key, int prefixLength, string typeSuffix)
    {
        var groupEnd = key.IndexOf('/', prefixLength);
        if (groupEnd < 0 || string.CompareOrdinal(key, groupEnd, typeSuffix, 0, typeSuffix.Length) != 0)
        {
            return false;
        }

        return key.IndexOf('/', groupEnd + typeSuffix.Length) < 0;
    }

    private static string CheckApiVersion(HttpContext context, ResourceTypeDefinition type, string location)
    {
        var apiVersion = context.Request.Query["api-version"].ToString();
        if (apiVersion.Length == 0)
        {
            throw ApiErrors.MissingApiVersion();
        }

        if (!type.SupportsApiVersion(apiVersion))
        {
            throw ApiErrors.NoRegisteredProvider(type.FullType, apiVersion, type.ApiVersions, location);
        }

        return apiVersion;
    }
}
