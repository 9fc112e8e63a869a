using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Providers.Framework;
using Holdfast.Providers.Resources;
using Holdfast.Resources.Errors;
using Holdfast.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Arm.Providers;

/// <summary>
/// Provider discovery as ARM serves it: tenant-level <c>/providers</c>, per-subscription
/// <c>/subscriptions/{id}/providers[/{namespace}]</c> with registration state, and register/unregister.
/// Every type lists its api-versions newest first, so generic-by-id clients pick one we serve.
/// </summary>
internal static class ProviderEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var metadata = new ArmEndpointMetadata(ApiVersions: ResourcesProvider.ResourceGroupApiVersions);
        // Tenant-level discovery needs only a signed-in caller, as in Azure.
        routes.MapGet("/providers", ListTenantAsync).WithMetadata(metadata with { AuthenticatedOnly = true });
        routes.MapGet("/providers/{providerNamespace}", GetTenantAsync).WithMetadata(metadata with { AuthenticatedOnly = true });
        routes.MapGet("/subscriptions/{subscriptionId}/providers", ListAsync).WithMetadata(metadata);
        routes.MapGet("/subscriptions/{subscriptionId}/providers/{providerNamespace}", GetAsync).WithMetadata(metadata);
        routes.MapPost("/subscriptions/{subscriptionId}/providers/{providerNamespace}/register", (HttpContext c, string subscriptionId, string providerNamespace) => SetRegistrationAsync(c, subscriptionId, providerNamespace, true)).WithMetadata(metadata);
        routes.MapPost("/subscriptions/{subscriptionId}/providers/{providerNamespace}/unregister", (HttpContext c, string subscriptionId, string providerNamespace) => SetRegistrationAsync(c, subscriptionId, providerNamespace, false)).WithMetadata(metadata);
    }

    private static Task ListTenantAsync(HttpContext context)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var items = new JsonArray(data.Registry.Providers.Select(p => (JsonNode)Describe(p, data, null, null)).ToArray());
        return ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = items });
    }

    private static Task GetTenantAsync(HttpContext context, string providerNamespace)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var provider = Find(data, providerNamespace);
        return ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, Describe(provider, data, null, null));
    }

    private static async Task ListAsync(HttpContext context, string subscriptionId)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        var id = subscription.SubscriptionId;
        await Authorizer(context).AuthorizeAsync(context, ReadAction, "/subscriptions/" + id).ConfigureAwait(false);
        var items = new JsonArray();
        foreach (var provider in data.Registry.Providers)
        {
            var registered = await data.IsRegisteredAsync(id, provider, context.RequestAborted).ConfigureAwait(false);
            items.Add(Describe(provider, data, id, registered));
        }

        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["value"] = items }).ConfigureAwait(false);
    }

    private static async Task GetAsync(HttpContext context, string subscriptionId, string providerNamespace)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        await Authorizer(context).AuthorizeAsync(context, ReadAction, "/subscriptions/" + subscription.SubscriptionId).ConfigureAwait(false);
        var provider = Find(data, providerNamespace);
        var id = subscription.SubscriptionId;
        var registered = await data.IsRegisteredAsync(id, provider, context.RequestAborted).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, Describe(provider, data, id, registered)).ConfigureAwait(false);
    }

    private static async Task SetRegistrationAsync(HttpContext context, string subscriptionId, string providerNamespace, bool register)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var subscription = await data.GetSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        await Authorizer(context).AuthorizeAsync(context, $"{providerNamespace}/{(register ? "register" : "unregister")}/action", "/subscriptions/" + subscription.SubscriptionId).ConfigureAwait(false);
        await data.GetWritableSubscriptionAsync(subscriptionId, ArmRequest.Of(context).RequirePrincipal(), context.RequestAborted).ConfigureAwait(false);
        var provider = Find(data, providerNamespace);
        var id = subscription.SubscriptionId;
        if (!register && provider.Namespace.Equals(ResourcesProvider.Namespace, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.Conflict, "ProviderUnregistrationNotAllowed", $"The provider '{provider.Namespace}' is part of Resource Manager and cannot be unregistered.");
        }

        await data.CommitAsync(context, new TxnRequest([], [TxnOp.Put(ResourceKeys.Registration(id, provider.Namespace), Encoding.UTF8.GetBytes(register ? "Registered" : "NotRegistered"))]), StatusCodes.Status200OK).ConfigureAwait(false);
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, Describe(provider, data, id, register)).ConfigureAwait(false);
    }

    private const string ReadAction = "Microsoft.Resources/subscriptions/providers/read";

    private static Authorization.RequestAuthorizer Authorizer(HttpContext context) => context.RequestServices.GetRequiredService<Authorization.RequestAuthorizer>();

    private static ResourceProviderDefinition Find(ArmData data, string providerNamespace) =>
        data.Registry.FindProvider(providerNamespace)
        ?? throw new ApiException(HttpStatusCode.NotFound, ArmErrorCodes.InvalidResourceNamespace, $"The resource namespace '{providerNamespace}' is invalid.");

    private static JsonObject Describe(ResourceProviderDefinition provider, ArmData data, string? subscriptionId, bool? registered)
    {
        var types = new JsonArray();
        foreach (var type in provider.ResourceTypes)
        {
            types.Add(new JsonObject
            {
                ["resourceType"] = type.Type,
                ["locations"] = type.RequiresLocation ? new JsonArray(data.Options.LocationDisplayName) : new JsonArray(),
                ["apiVersions"] = new JsonArray(type.ApiVersions.Select(v => (JsonNode)v).ToArray()),
                ["defaultApiVersion"] = type.ApiVersions.FirstOrDefault(v => !v.Contains("preview", StringComparison.OrdinalIgnoreCase)) ?? type.ApiVersions[0],
                ["capabilities"] = "None",
            });
        }

        var result = new JsonObject();
        if (subscriptionId is not null)
        {
            result["id"] = $"/subscriptions/{subscriptionId}/providers/{provider.Namespace}";
        }

        result["namespace"] = provider.Namespace;
        if (registered is { } isRegistered)
        {
            result["registrationState"] = isRegistered ? "Registered" : "NotRegistered";
            result["registrationPolicy"] = "RegistrationRequired";
        }

        result["resourceTypes"] = types;
        return result;
    }
}
