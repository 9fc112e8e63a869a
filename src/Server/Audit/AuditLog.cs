using Holdfast.Audit.Chain;
using Holdfast.Audit.Export;
using Holdfast.State;

namespace Holdfast.Server.Audit;

/// <summary>Reads the chained activity log out of a store: entries in stored (key) order, checkpoints and the retention anchor.</summary>
public static class AuditLog
{
    private const int PageSize = 1000;

    /// <summary>Everything the chainer has written, as <see cref="Holdfast.Audit.Verification.AuditVerifier"/> and <see cref="AuditExport"/> take it.</summary>
    public static async Task<AuditExportContent> ReadAsync(IStateStore store, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var entries = new List<AuditEntry>();
        await foreach (var kv in RangeAllAsync(store, AuditKeys.EntriesPrefix, null, cancellationToken).ConfigureAwait(false))
        {
            entries.Add(Parse(kv, AuditJson.DeserializeEntry));
        }

        var checkpoints = new List<AuditCheckpoint>();
        await foreach (var kv in RangeAllAsync(store, AuditKeys.CheckpointsPrefix, null, cancellationToken).ConfigureAwait(false))
        {
            checkpoints.Add(Parse(kv, AuditJson.DeserializeCheckpoint));
        }

        var anchor = await store.GetAsync(AuditKeys.Anchor, cancellationToken).ConfigureAwait(false);
        return new AuditExportContent(entries, checkpoints, anchor is null ? null : Parse(anchor, AuditJson.DeserializeCheckpoint));
    }

    private delegate T Deserializer<out T>(ReadOnlySpan<byte> utf8Json);

    /// <summary>A stored record that is not even well-formed was edited by hand: say which key, for the operator.</summary>
    private static T Parse<T>(KeyValue kv, Deserializer<T> deserialize)
    {
        try
        {
            return deserialize(kv.Value.Span);
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new InvalidDataException($"The stored activity-log record '{kv.Key}' is not readable ({ex.Message}): it was edited outside Holdfast.", ex);
        }
    }

    /// <summary>Every key under <paramref name="prefix"/> after <paramref name="startAfter"/>, a page at a time.</summary>
    internal static async IAsyncEnumerable<KeyValue> RangeAllAsync(IStateStore store, string prefix, string? startAfter, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var after = startAfter;
        while (true)
        {
            var page = await store.RangeAsync(new RangeRequest(prefix, PageSize, after), cancellationToken).ConfigureAwait(false);
            foreach (var kv in page.Items)
            {
                yield return kv;
            }

            if (!page.More)
            {
                yield break;
            }

            after = page.ContinueAfter;
        }
    }
}
