using System.Text.Json;
using Holdfast.State;

namespace Holdfast.Providers.Framework;

/// <summary>
/// Deletes finished long-running operation records once they are older than a retention period, so status monitors
/// stay answerable for a while after an operation ends (clients poll late, or re-read) without the store growing
/// forever. Running operations are never touched. Each delete is guarded by the record's revision.
/// </summary>
public static class OperationJanitor
{
    /// <summary>How long a finished operation stays queryable; Azure keeps operation results for days, a day suits a local cloud.</summary>
    public static readonly TimeSpan DefaultRetention = TimeSpan.FromDays(1);

    /// <summary>Removes finished operations that ended before <paramref name="now"/> minus <paramref name="retention"/>; returns how many.</summary>
    public static async Task<int> SweepAsync(IStateStore store, DateTimeOffset now, TimeSpan retention, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var cutoff = now - retention;
        var removed = 0;
        string? after = null;
        do
        {
            var page = await store.RangeAsync(new RangeRequest(ResourceKeys.OperationsPrefix, 500, after), cancellationToken).ConfigureAwait(false);
            foreach (var kv in page.Items)
            {
                OperationRecord operation;
                try
                {
                    operation = OperationRecord.Deserialize(kv.Value, OperationRecord.LatestVersion);
                }
                catch (Exception ex) when (ex is JsonException or StoredSchemaTooNewException)
                {
                    continue;
                }

                if (operation.IsTerminal && (operation.EndTime ?? operation.StartTime) < cutoff)
                {
                    var deleted = await store.DeleteAsync(kv.Key, kv.ModRevision, cancellationToken).ConfigureAwait(false);
                    removed += deleted.Succeeded ? 1 : 0;
                }
            }

            after = page.ContinueAfter;
        }
        while (after is not null);

        return removed;
    }
}
