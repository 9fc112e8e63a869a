using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.State;

namespace Holdfast.Server.Agents;

/// <summary>Host-document writes by the agent side: compare-and-swap on the key's mod revision, re-read and retried on conflict.</summary>
internal static class HostStateWriter
{
    private const int MaxAttempts = 16;

    /// <summary>
    /// Applies <paramref name="change"/> to the stored host (null from it: nothing to do). Returns the document written,
    /// or null when the host does not exist or the change declined.
    /// </summary>
    public static async Task<HostDocument?> UpdateAsync(IStateStore store, string hostName, Func<HostDocument, HostDocument?> change, CancellationToken cancellationToken)
    {
        var key = FabricKeys.Host(hostName);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var kv = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
            if (kv is null)
            {
                return null;
            }

            var next = change(FabricJson.Deserialize<HostDocument>(kv.Value.Span));
            if (next is null)
            {
                return null;
            }

            var result = await store.PutAsync(key, FabricJson.Serialize(next), kv.ModRevision, cancellationToken).ConfigureAwait(false);
            if (result.Succeeded)
            {
                return next;
            }
        }

        throw new StateStoreException($"Updating host '{hostName}' kept conflicting with concurrent writes; retry.");
    }

    /// <summary>Moves the host from one of <paramref name="from"/> to <paramref name="to"/> (a legal lifecycle step), with a reason.</summary>
    public static Task<HostDocument?> TransitionAsync(IStateStore store, string hostName, HostState[] from, HostState to, string reason, DateTimeOffset now, CancellationToken cancellationToken) =>
        UpdateAsync(store, hostName, host => from.Contains(host.State) && HostLifecycle.NextStates(host.State).Contains(to)
            ? host with { State = to, StateReason = reason, StateChangedAt = now }
            : null, cancellationToken);
}
