using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Identity.Tokens;
using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.State;

namespace Holdfast.Server.Arm;

/// <summary>
/// The ARM-level reads every endpoint needs — the caller's subscription, a resource group, a provider's registration —
/// each failing with ARM's error, plus the building blocks of writes (system data, operation records).
/// </summary>
internal sealed class ArmData(IStateStore store, ProviderRegistry registry, HoldfastServerOptions options, TimeProvider timeProvider, Subscriptions.SubscriptionDirectory subscriptions, Audit.AuditRecorder audit, SchemaLevels schemas)
{
    public IStateStore Store => store;

    /// <summary>The schema versions this replica reads and writes.</summary>
    public SchemaLevels Schemas => schemas;

    public ProviderRegistry Registry => registry;

    /// <summary>What this replica wrote last: a write's first guess at the current state (checked by its compare).</summary>
    public OwnWrites OwnWrites { get; } = new();

    public HoldfastServerOptions Options => options;

    public TimeProvider Time => timeProvider;

    /// <summary>The subscription, if it exists and belongs to the caller's tenant; otherwise ARM's 404.</summary>
    public async Task<Subscriptions.SubscriptionView> GetSubscriptionAsync(string subscriptionId, TokenPrincipal caller, CancellationToken cancellationToken)
    {
        if (!Guid.TryParseExact(subscriptionId, "D", out _))
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidSubscriptionId, $"The provided subscription identifier '{subscriptionId}' is malformed or invalid.");
        }

        var subscription = await subscriptions.FindAsync(subscriptionId, cancellationToken).ConfigureAwait(false);
        if (subscription is null || !string.Equals(subscription.TenantId, caller.TenantId, StringComparison.OrdinalIgnoreCase))
        {
            throw ApiErrors.SubscriptionNotFound(subscriptionId);
        }

        return subscription;
    }

    /// <summary>The subscriptions of the caller's tenant.</summary>
    public async Task<IReadOnlyList<Subscriptions.SubscriptionView>> ListSubscriptionsAsync(TokenPrincipal caller, CancellationToken cancellationToken)
    {
        var all = await subscriptions.ListAsync(cancellationToken).ConfigureAwait(false);
        return all.Where(s => string.Equals(s.TenantId, caller.TenantId, StringComparison.OrdinalIgnoreCase)).ToList();
    }

    /// <summary>As <see cref="GetSubscriptionAsync"/>, and the subscription must accept writes.</summary>
    public async Task<Subscriptions.SubscriptionView> GetWritableSubscriptionAsync(string subscriptionId, TokenPrincipal caller, CancellationToken cancellationToken)
    {
        var subscription = await GetSubscriptionAsync(subscriptionId, caller, cancellationToken).ConfigureAwait(false);
        if (!subscription.IsEnabled)
        {
            throw new ApiException(HttpStatusCode.Conflict, "ReadOnlyDisabledSubscription", $"The subscription '{subscriptionId}' is {subscription.State} and therefore marked as read only. You cannot perform any write actions on this subscription until it is re-enabled.");
        }

        return subscription;
    }

    public async Task<(JsonObject Group, KeyValue Stored)> GetGroupAsync(string subscriptionId, string resourceGroupName, CancellationToken cancellationToken)
    {
        var kv = await store.GetAsync(ResourceKeys.Group(subscriptionId, resourceGroupName), cancellationToken).ConfigureAwait(false)
            ?? throw ApiErrors.ResourceGroupNotFound(resourceGroupName);
        return (ResourceDocument.Parse(kv.Value), kv);
    }

    /// <summary>
    /// Commits a request's own write. Every write a request makes goes through here, so its activity-log record can
    /// ride in the same transaction; <paramref name="successStatus"/> is the HTTP status the request answers when the
    /// transaction succeeds.
    /// </summary>
    public async ValueTask<TxnResult> CommitAsync(Microsoft.AspNetCore.Http.HttpContext context, TxnRequest request, int successStatus)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(request);

        // The record rides in the success branch only: a failed compare writes nothing, and the request either retries
        // (and commits its record then) or fails, when the pipeline records the failure.
        // A request needs only its own keys' revisions (ETags), so its commit may share a revision with others.
        var audited = request with { Success = [.. request.Success, audit.PendingOp(context, successStatus)], MayShareRevision = true, WithoutPreviousValues = true };
        var result = await store.TxnAsync(audited, context.RequestAborted).ConfigureAwait(false);
        if (result.Succeeded)
        {
            audit.Committed(context);
        }

        return result;
    }

    public async Task<bool> IsRegisteredAsync(string subscriptionId, ResourceProviderDefinition provider, CancellationToken cancellationToken)
    {
        var kv = await store.GetAsync(ResourceKeys.Registration(subscriptionId, provider.Namespace), cancellationToken).ConfigureAwait(false);
        return kv is null ? provider.RegisteredByDefault : Encoding.UTF8.GetString(kv.Value.Span) == "Registered";
    }

    public void ValidateLocation(string? location, ICollection<ApiError> errors, string code = ArmErrorCodes.InvalidResourceLocation)
    {
        if (location is null)
        {
            return;
        }

        if (!IsOwnLocation(location))
        {
            errors.Add(new ApiError(code, $"The provided location '{location}' is not available for this resource type. List of available regions is '{options.Location}'.", "location"));
        }
    }

    /// <summary>Accepts the location's name or display name, case- and space-insensitively, as ARM does.</summary>
    public bool IsOwnLocation(string location)
    {
        var normalized = location.Replace(" ", string.Empty, StringComparison.Ordinal);
        return normalized.Equals(options.Location, StringComparison.OrdinalIgnoreCase)
            || normalized.Equals(options.LocationDisplayName.Replace(" ", string.Empty, StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
    }

    public JsonObject SystemData(TokenPrincipal caller, JsonObject? previous)
    {
        var now = timeProvider.GetUtcNow().UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture);

        // As Azure: a person is named by their user name, an application by its client id.
        var (by, byType) = caller.IsUser ? (caller.UserName ?? caller.ObjectId, "User") : (caller.AppId, "Application");
        return new JsonObject
        {
            ["createdBy"] = previous?["createdBy"]?.DeepClone() ?? by,
            ["createdByType"] = previous?["createdByType"]?.DeepClone() ?? byType,
            ["createdAt"] = previous?["createdAt"]?.DeepClone() ?? now,
            ["lastModifiedBy"] = by,
            ["lastModifiedByType"] = byType,
            ["lastModifiedAt"] = now,
        };
    }

    /// <summary>A new in-progress operation, and the transaction ops that store it and point the resource at it.</summary>
    public (OperationRecord Operation, TxnOp[] Ops) NewOperation(string subscriptionId, string statusPath, string operationId, string resourceKey, string resourceId, string kind)
    {
        var operation = new OperationRecord
        {
            Name = operationId,
            Id = statusPath,
            Status = OperationRecord.InProgress,
            StartTime = timeProvider.GetUtcNow(),
            ResourceId = resourceId,
            Kind = kind,
            SubscriptionId = subscriptionId,
            ProviderNamespace = OperationRecord.NamespaceOf(resourceId),
        };
        return (operation,
        [
            TxnOp.Put(ResourceKeys.Operation(operationId), operation.Serialize(schemas.Write(SchemaLevels.Operation))),
            TxnOp.Put(ResourceKeys.OperationRef(resourceKey), Encoding.UTF8.GetBytes(operationId)),
        ]);
    }
}
