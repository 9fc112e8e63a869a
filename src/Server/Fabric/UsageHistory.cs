using System.Text.Json;
using Holdfast.Fabric;
using Holdfast.State;

namespace Holdfast.Server.Fabric;

/// <summary>A cluster's daily peaks of allocated capacity, oldest first, with how many samples made them and the newest sampled capacity.</summary>
internal sealed record ClusterHistory(IReadOnlyList<(DateOnly Day, LongVector Peak)> Days, int Samples, LongVector LatestTotal);

/// <summary>
/// The usage history folded into daily peaks per cluster (peaks, because capacity must cover the busiest hour). Samples
/// are keyed by time, so each read continues after the last key it folded instead of reading a year of samples again.
/// </summary>
internal sealed class UsageHistory(IStateStore store) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, Folded> _clusters = new(StringComparer.OrdinalIgnoreCase);
    private string? _lastKey;

    public async Task<IReadOnlyDictionary<string, ClusterHistory>> ReadAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            RangeResult page;
            do
            {
                page = await store.RangeAsync(new RangeRequest(FabricKeys.UsageHistoryPrefix, 1000, _lastKey), cancellationToken).ConfigureAwait(false);
                foreach (var kv in page.Items)
                {
                    Fold(kv);
                    _lastKey = kv.Key;
                }
            }
            while (page.More);

            var result = new Dictionary<string, ClusterHistory>(StringComparer.OrdinalIgnoreCase);
            foreach (var (cluster, folded) in _clusters)
            {
                var newest = folded.Days.Keys.Max();
                var oldest = newest.AddDays(-(int)UsageSampler.Retention.TotalDays);
                result[cluster] = new ClusterHistory([.. folded.Days.Where(d => d.Key >= oldest).Select(d => (d.Key, d.Value))], folded.Samples, folded.LatestTotal);
            }

            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();

    private void Fold(KeyValue kv)
    {
        UsageSampleDocument sample;
        try
        {
            sample = FabricJson.Deserialize<UsageSampleDocument>(kv.Value.Span);
        }
        catch (JsonException)
        {
            return; // a sample this version cannot read is left out of the forecast
        }

        var day = DateOnly.FromDateTime(sample.At.UtcDateTime);
        foreach (var (cluster, usage) in sample.Clusters)
        {
            if (!_clusters.TryGetValue(cluster, out var folded))
            {
                _clusters[cluster] = folded = new Folded();
            }

            folded.Days[day] = folded.Days.TryGetValue(day, out var peak) ? LongVector.Max(peak, usage.Allocated) : usage.Allocated;
            folded.Samples++;
            folded.LatestTotal = usage.Total;
        }
    }

    private sealed class Folded
    {
        public SortedDictionary<DateOnly, LongVector> Days { get; } = [];

        public int Samples { get; set; }

        public LongVector LatestTotal { get; set; }
    }
}
