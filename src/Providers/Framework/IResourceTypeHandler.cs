using System.Text.Json.Nodes;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;

namespace Holdfast.Providers.Framework;

/// <summary>
/// What a resource type adds to the generic pipeline. <see cref="Validate"/> runs inside the request, before anything
/// is written, and must collect every problem; <see cref="ProvisionAsync"/> and <see cref="DeprovisionAsync"/> run in
/// the reconcile loop, from committed desired state, never inside a request.
/// </summary>
public interface IResourceTypeHandler
{
    void Validate(ResourceValidationContext context);

    ValueTask<ProvisionOutcome> ProvisionAsync(ResourceReconcileContext context, CancellationToken cancellationToken);

    ValueTask<ProvisionOutcome> DeprovisionAsync(ResourceReconcileContext context, CancellationToken cancellationToken);
}

/// <summary>The request's view of a write: the incoming properties may be defaulted in place.</summary>
public sealed class ResourceValidationContext(ResourceId id, JsonObject properties, JsonObject? existingProperties)
{
    private readonly List<ApiError> _errors = [];

    public ResourceId Id { get; } = id;

    /// <summary>The desired properties; handlers normalise and default them in place.</summary>
    public JsonObject Properties { get; } = properties;

    /// <summary>The stored properties when this write updates an existing resource, else null.</summary>
    public JsonObject? ExistingProperties { get; } = existingProperties;

    public bool IsCreate => ExistingProperties is null;

    public IReadOnlyList<ApiError> Errors => _errors;

    public void AddError(string code, string message, string target) => _errors.Add(new ApiError(code, message, target));
}

/// <summary>The reconcile loop's view of one resource: its committed JSON, which a handler may update (e.g. status fields).</summary>
public sealed class ResourceReconcileContext(ResourceId id, JsonObject resource)
{
    public ResourceId Id { get; } = id;

    public JsonObject Resource { get; } = resource;

    public JsonObject Properties => Resource["properties"] as JsonObject ?? throw new InvalidOperationException("A stored resource always has properties.");
}

/// <summary>The result of one provision or deprovision step.</summary>
public readonly record struct ProvisionOutcome(ApiError? Error, TimeSpan? RetryAfter)
{
    public static ProvisionOutcome Succeeded => default;

    public bool IsDone => Error is null && RetryAfter is null;

    /// <summary>A permanent failure: the resource goes to <c>Failed</c> and its operation fails with this error.</summary>
    public static ProvisionOutcome Failed(string code, string message) => new(new ApiError(code, message), null);

    /// <summary>Not finished; look again later (level-based polling of, say, a host agent).</summary>
    public static ProvisionOutcome NotYet(TimeSpan delay) => new(null, delay);
}

/// <summary>Defaults for handlers with nothing to do at some step.</summary>
public abstract class ResourceTypeHandler : IResourceTypeHandler
{
    public virtual void Validate(ResourceValidationContext context)
    {
    }

    public virtual ValueTask<ProvisionOutcome> ProvisionAsync(ResourceReconcileContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ProvisionOutcome.Succeeded);

    public virtual ValueTask<ProvisionOutcome> DeprovisionAsync(ResourceReconcileContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ProvisionOutcome.Succeeded);
}
