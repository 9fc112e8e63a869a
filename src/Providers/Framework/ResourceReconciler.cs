using System.Text;
using System.Text.Json;
using Holdfast.Reconciliation;
using Holdfast.Resources.Errors;
using Holdfast.Resources.Ids;
using Holdfast.State;
using Microsoft.Extensions.Logging;

namespace Holdfast.Providers.Framework;

/// <summary>
/// The generic reconciler for every ARM resource and resource group, keyed by store key. It reads the committed
/// document; a non-terminal <c>provisioningState</c> means work is due. Provisioning and deprovisioning are delegated
/// to the type's handler; the result, the new state and the operation's status are written in one compare-and-swap
/// transaction, so a newer desired state written meanwhile is never overwritten (the newer write re-queues the key).
/// A resource group in <c>Deleting</c> marks its resources <c>Deleting</c> and is removed once they are gone.
/// </summary>
public sealed partial class ResourceReconciler(IStateStore store, ProviderRegistry registry, TimeProvider timeProvider, ILogger<ResourceReconciler> logger)
    : IReconciler<string>
{
    /// <summary>How often a deleting group looks again even if no child event arrives (events normally come first).</summary>
    private static readonly TimeSpan GroupRecheck = TimeSpan.FromSeconds(2);

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        if (key.StartsWith(ResourceKeys.GroupsPrefix, StringComparison.Ordinal))
        {
            return ReconcileGroupAsync(key, cancellationToken);
        }

        if (key.StartsWith(ResourceKeys.ResourcesPrefix, StringComparison.Ordinal))
        {
            return ReconcileResourceAsync(key, cancellationToken);
        }

        return Task.FromResult(ReconcileResult.Done);
    }

    private async Task<ReconcileResult> ReconcileResourceAsync(string key, CancellationToken cancellationToken)
    {
        var kv = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        if (kv is null)
        {
            return ReconcileResult.Done;
        }

        var resource = ResourceDocument.Parse(kv.Value);
        var state = ResourceDocument.GetProvisioningState(resource);
        if (ProvisioningStates.IsTerminal(state))
        {
            return ReconcileResult.Done;
        }

        var id = ResourceId.Parse(resource["id"]!.GetValue<string>());
        var definition = registry.FindType(id.ResourceType);
        var deleting = string.Equals(state, ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase);
        ProvisionOutcome outcome;
        if (definition is null)
        {
            // A type no longer served (e.g. after a downgrade) can still be deleted; it cannot be provisioned.
            outcome = deleting ? ProvisionOutcome.Succeeded : ProvisionOutcome.Failed(ArmErrorCodes.InvalidResourceType, $"The resource type '{id.ResourceType}' is not served by this control plane.");
        }
        else
        {
            var context = new ResourceReconcileContext(id, resource);
            outcome = deleting
                ? await definition.Handler.DeprovisionAsync(context, cancellationToken).ConfigureAwait(false)
                : await definition.Handler.ProvisionAsync(context, cancellationToken).ConfigureAwait(false);
        }

        if (outcome.RetryAfter is { } delay)
        {
            return ReconcileResult.After(delay);
        }

        var now = timeProvider.GetUtcNow();
        var (operationOps, operationCompares) = await CompleteOperationAsync(key, outcome.Error is null ? ProvisioningStates.Succeeded : ProvisioningStates.Failed, outcome.Error, now, cancellationToken).ConfigureAwait(false);
        var compares = new List<Compare> { Compare.ModRevisionIs(key, kv.ModRevision) };
        compares.AddRange(operationCompares);
        var ops = new List<TxnOp>(operationOps);
        if (deleting && outcome.Error is null)
        {
            if (definition?.Handler is IResourceAdmission admission)
            {
                var release = await admission.ReleaseAsync(new ResourceReleaseContext(id, resource, store), cancellationToken).ConfigureAwait(false);
                compares.AddRange(release.Compares);
                ops.AddRange(release.Ops);
            }

            ops.Add(TxnOp.Delete(key));
            LogDeleted(logger, id);
        }
        else
        {
            ResourceDocument.SetProvisioningState(resource, outcome.Error is null ? ProvisioningStates.Succeeded : ProvisioningStates.Failed);
            ops.Add(TxnOp.Put(key, ResourceDocument.Serialize(resource)));
            if (outcome.Error is not null)
            {
                LogProvisionFailed(logger, id, outcome.Error.Code, outcome.Error.Message);
            }
        }

        var result = await store.TxnAsync(new TxnRequest(compares, ops), cancellationToken).ConfigureAwait(false);
        // A failed compare means a newer desired state was committed meanwhile; its watch event queues the key again.
        return result.Succeeded ? ReconcileResult.Done : ReconcileResult.After(TimeSpan.Zero);
    }

    private async Task<ReconcileResult> ReconcileGroupAsync(string key, CancellationToken cancellationToken)
    {
        var kv = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        if (kv is null)
        {
            return ReconcileResult.Done;
        }

        var group = ResourceDocument.Parse(kv.Value);
        if (!string.Equals(ResourceDocument.GetProvisioningState(group), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
        {
            return ReconcileResult.Done;
        }

        var childPrefix = ResourceKeys.ResourcesPrefix + key[ResourceKeys.GroupsPrefix.Length..] + "/";
        var children = await store.RangeAsync(new RangeRequest(childPrefix, Limit: 256), cancellationToken).ConfigureAwait(false);
        if (children.Items.Count > 0)
        {
            var now = timeProvider.GetUtcNow();
            foreach (var child in children.Items)
            {
                var resource = ResourceDocument.Parse(child.Value);
                if (string.Equals(ResourceDocument.GetProvisioningState(resource), ProvisioningStates.Deleting, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                // The child's own in-flight operation is superseded by the group's deletion.
                var (cancelOps, cancelCompares) = await CompleteOperationAsync(
                    child.Key,
                    ProvisioningStates.Canceled,
                    new ApiError("OperationCanceled", "The operation was canceled because its resource group is being deleted."),
                    now,
                    cancellationToken).ConfigureAwait(false);
                ResourceDocument.SetProvisioningState(resource, ProvisioningStates.Deleting);
                var compares = new List<Compare> { Compare.ModRevisionIs(child.Key, child.ModRevision) };
                compares.AddRange(cancelCompares);
                var ops = new List<TxnOp>(cancelOps) { TxnOp.Put(child.Key, ResourceDocument.Serialize(resource)) };
                await store.TxnAsync(new TxnRequest(compares, ops), cancellationToken).ConfigureAwait(false);
            }

            return ReconcileResult.After(GroupRecheck);
        }

        var (operationOps, operationCompares) = await CompleteOperationAsync(key, ProvisioningStates.Succeeded, null, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        var groupCompares = new List<Compare> { Compare.ModRevisionIs(key, kv.ModRevision) };
        groupCompares.AddRange(operationCompares);
        var groupOps = new List<TxnOp>(operationOps) { TxnOp.Delete(key) };
        var done = await store.TxnAsync(new TxnRequest(groupCompares, groupOps), cancellationToken).ConfigureAwait(false);
        if (!done.Succeeded)
        {
            return ReconcileResult.After(TimeSpan.Zero);
        }

        var groupId = ResourceId.Parse(group["id"]!.GetValue<string>());
        LogDeleted(logger, groupId);
        return ReconcileResult.Done;
    }

    /// <summary>
    /// The transaction parts that finish the operation driving <paramref name="resourceKey"/>, if there is one: the
    /// operation's terminal status and the removal of the reference, guarded by the reference's revision.
    /// </summary>
    private async Task<(IReadOnlyList<TxnOp> Ops, IReadOnlyList<Compare> Compares)> CompleteOperationAsync(
        string resourceKey, string status, ApiError? error, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var refKey = ResourceKeys.OperationRef(resourceKey);
        var reference = await store.GetAsync(refKey, cancellationToken).ConfigureAwait(false);
        if (reference is null)
        {
            return ([], [Compare.Absent(refKey)]);
        }

        var operationKey = ResourceKeys.Operation(Encoding.UTF8.GetString(reference.Value.Span));
        var operation = await store.GetAsync(operationKey, cancellationToken).ConfigureAwait(false);
        var ops = new List<TxnOp> { TxnOp.Delete(refKey) };
        if (operation is not null)
        {
            OperationRecord record;
            try
            {
                record = OperationRecord.Deserialize(operation.Value, OperationRecord.LatestVersion);
            }
            catch (JsonException)
            {
                return (ops, [Compare.ModRevisionIs(refKey, reference.ModRevision)]);
            }

            if (!record.IsTerminal)
            {
                ops.Add(TxnOp.Put(operationKey, record.Complete(status, now, error).Serialize(record.StoredVersion)));
            }
        }

        return (ops, [Compare.ModRevisionIs(refKey, reference.ModRevision)]);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {ResourceId}")]
    private static partial void LogDeleted(ILogger logger, ResourceId resourceId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Provisioning {ResourceId} failed: {ErrorCode} {ErrorMessage}")]
    private static partial void LogProvisionFailed(ILogger logger, ResourceId resourceId, string errorCode, string errorMessage);
}
