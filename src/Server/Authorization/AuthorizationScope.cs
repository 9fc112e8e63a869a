using System.Net;
using Holdfast.Identity.Authorization;
using Holdfast.Identity.Tokens;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.Server.Arm;
using Holdfast.Server.Arm.Subscriptions;

namespace Holdfast.Server.Authorization;

/// <summary>
/// The scope a Microsoft.Authorization request names — the root <c>/</c>, a subscription, a resource group or a
/// resource — resolved without reading the store (the subscription comes from its in-memory view), so authorization
/// happens before any read; <see cref="EnsureExistsAsync"/> then checks the group or resource.
/// </summary>
internal sealed record AuthorizationScope(string Path, SubscriptionView? Subscription, string? ResourceGroupName, ResourceId? Resource)
{
    public bool IsRoot => Subscription is null;

    public static AuthorizationScope Root { get; } = new(Scopes.Root, null, null, null);

    public static async Task<AuthorizationScope> ResolveAsync(ArmData data, TokenPrincipal caller, string? subscriptionId, string? resourceGroupName, CancellationToken cancellationToken)
    {
        if (subscriptionId is null)
        {
            return Root;
        }

        var subscription = await data.GetSubscriptionAsync(subscriptionId, caller, cancellationToken).ConfigureAwait(false);
        if (resourceGroupName is null)
        {
            return new AuthorizationScope("/subscriptions/" + subscription.SubscriptionId, subscription, null, null);
        }

        if (NameRule.ResourceGroup.Validate(resourceGroupName) is not null)
        {
            throw ApiErrors.ResourceGroupNotFound(resourceGroupName);
        }

        return new AuthorizationScope(ResourceId.ResourceGroup(subscription.SubscriptionId, resourceGroupName).ToString(), subscription, resourceGroupName, null);
    }

    public static AuthorizationScope ForResource(SubscriptionView subscription, ResourceId resource) =>
        new(resource.ToString(), subscription, resource.ResourceGroupName, resource);

    /// <summary>After authorization: the named group or resource must exist (ARM's 404 otherwise).</summary>
    public async Task EnsureExistsAsync(ArmData data, CancellationToken cancellationToken)
    {
        if (Resource is not null)
        {
            if (await data.Store.GetAsync(ResourceKeys.Resource(Resource), cancellationToken).ConfigureAwait(false) is null)
            {
                throw ApiErrors.ResourceNotFound(Resource.ResourceType, Resource.Name);
            }
        }
        else if (ResourceGroupName is not null)
        {
            await data.GetGroupAsync(Subscription!.SubscriptionId, ResourceGroupName, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes need an enabled subscription (<c>ReadOnlyDisabledSubscription</c> otherwise).</summary>
    public void EnsureWritable()
    {
        if (Subscription is { IsEnabled: false } subscription)
        {
            throw new ApiException(HttpStatusCode.Conflict, "ReadOnlyDisabledSubscription", $"The subscription '{subscription.SubscriptionId}' is {subscription.State} and therefore marked as read only. You cannot perform any write actions on this subscription until it is re-enabled.");
        }
    }
}
