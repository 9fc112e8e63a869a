using System.Text.Json.Nodes;
using Holdfast.Resources.Ids;
using Holdfast.State;

namespace Holdfast.Providers.Framework;

/// <summary>
/// What a resource type's handler implements, besides <see cref="IResourceTypeHandler"/>, when its writes depend on or
/// change other state in the same transaction: quota counters, addresses taken from a subnet, references that forbid a
/// delete. <see cref="AdmitAsync"/> runs in the request after validation, on every commit attempt (a failed compare makes
/// the writer read and admit again); <see cref="ReleaseAsync"/> runs in the reconcile loop in the transaction that finally
/// removes the resource. Either may throw <c>ApiException</c> to refuse; nothing is written then.
/// </summary>
public interface IResourceAdmission
{
    ValueTask<Admission> AdmitAsync(ResourceAdmissionContext context, CancellationToken cancellationToken);

    ValueTask<Admission> ReleaseAsync(ResourceReleaseContext context, CancellationToken cancellationToken);
}

/// <summary>The compares that guard an admission decision and the operations that record it, committed with the write.</summary>
public sealed record Admission(IReadOnlyList<Compare> Compares, IReadOnlyList<TxnOp> Ops)
{
    public static Admission None { get; } = new([], []);
}

/// <summary>What is being admitted.</summary>
public enum AdmissionKind
{
    Create,
    Update,
    Delete,
}

/// <summary>
/// One write as admission sees it. <see cref="Resource"/> is the document about to be committed (for a delete, the stored
/// one marked Deleting); admission may set fields on it (an allocated address, say). <see cref="Store"/> is for reads.
/// </summary>
public sealed class ResourceAdmissionContext(ResourceId id, AdmissionKind kind, JsonObject resource, JsonObject? previous, IStateStore store)
{
    public ResourceId Id { get; } = id;

    public AdmissionKind Kind { get; } = kind;

    public JsonObject Resource { get; } = resource;

    /// <summary>The stored document before this write, or null on create.</summary>
    public JsonObject? Previous { get; } = previous;

    public IStateStore Store { get; } = store;

    public JsonObject Properties => Resource["properties"] as JsonObject ?? throw new InvalidOperationException("A resource being admitted always has properties.");
}

/// <summary>A resource about to be removed for good: its last stored document.</summary>
public sealed class ResourceReleaseContext(ResourceId id, JsonObject resource, IStateStore store)
{
    public ResourceId Id { get; } = id;

    public JsonObject Resource { get; } = resource;

    public IStateStore Store { get; } = store;
}
