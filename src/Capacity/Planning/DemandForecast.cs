using Holdfast.Capacity.Inventory;

namespace Holdfast.Capacity.Planning;

/// <summary>What a cluster had allocated at one moment (one sample of allocation history).</summary>
public readonly record struct UsageSample(DateTimeOffset At, string Cluster, CapacityVector Used);

/// <summary>One dimension's outlook: the forecast daily peak and the days until it reaches the capacity (null: not within the horizon).</summary>
public sealed record DimensionForecast(string Dimension, long Capacity, double LastPeak, IReadOnlyList<double> DailyPeakForecast, int? DaysUntilFull);

/// <summary>A cluster's outlook; <see cref="DaysUntilFull"/> is the soonest over its dimensions.</summary>
public sealed record ClusterForecast(string Cluster, int HistoryDays, IReadOnlyList<DimensionForecast> Dimensions)
{
    public int? DaysUntilFull => Dimensions.Select(d => d.DaysUntilFull).Where(d => d is not null).DefaultIfEmpty(null).Min();

    /// <summary>The dimension that runs out first, if any does within the horizon.</summary>
    public string? LimitingDimension => Dimensions.Where(d => d.DaysUntilFull is not null).OrderBy(d => d.DaysUntilFull).FirstOrDefault()?.Dimension;
}

/// <summary>
/// Demand forecasting from allocation history: per cluster and dimension, the daily peak of what was allocated
/// (peaks, because capacity must cover the busiest hour, not the average), Holt-Winters with a weekly season on those
/// peaks, and the first day the forecast peak reaches the cluster's capacity.
/// </summary>
public static class DemandForecast
{
    public const int WeekLength = 7;

    /// <summary>
    /// Forecasts each cluster in <paramref name="capacity"/> from <paramref name="history"/> (UTC days; a day with no
    /// sample repeats the previous day's peak). A cluster with under two days of history gets no dimension forecasts.
    /// </summary>
    public static IReadOnlyList<ClusterForecast> Forecast(IEnumerable<UsageSample> history, IReadOnlyDictionary<string, CapacityVector> capacity, int horizonDays = 365)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(capacity);
        ArgumentOutOfRangeException.ThrowIfLessThan(horizonDays, 1);
        var peaks = DailyPeaks(history);
        var result = new List<ClusterForecast>();
        foreach (var (cluster, clusterCapacity) in capacity.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!peaks.TryGetValue(cluster, out var days) || days.Count < 2)
            {
                result.Add(new ClusterForecast(cluster, days?.Count ?? 0, []));
                continue;
            }

            var dimensions = new List<DimensionForecast>();
            for (var d = 0; d < CapacityVector.Dimensions; d++)
            {
                if (clusterCapacity[d] <= 0)
                {
                    continue;
                }

                var series = days.Select(v => (double)v[d]).ToList();
                dimensions.Add(ForecastDimension(CapacityVector.DimensionNames[d], series, clusterCapacity[d], horizonDays));
            }

            result.Add(new ClusterForecast(cluster, days.Count, dimensions));
        }

        return result;
    }

    /// <summary>Forecasts one series of daily peaks against <paramref name="capacity"/>.</summary>
    public static DimensionForecast ForecastDimension(string dimension, IReadOnlyList<double> dailyPeaks, long capacity, int horizonDays)
    {
        var model = HoltWinters.Fit(dailyPeaks, WeekLength);
        var forecast = new double[horizonDays];
        int? full = dailyPeaks[^1] >= capacity ? 0 : null;
        for (var day = 1; day <= horizonDays; day++)
        {
            forecast[day - 1] = Math.Max(0, model.Forecast(day));
            if (full is null && forecast[day - 1] >= capacity)
            {
                full = day;
            }
        }

        return new DimensionForecast(dimension, capacity, dailyPeaks[^1], forecast, full);
    }

    /// <summary>Per cluster, the peak allocated amount of each UTC day from the first to the last sampled day, per dimension.</summary>
    public static Dictionary<string, List<CapacityVector>> DailyPeaks(IEnumerable<UsageSample> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var byCluster = new Dictionary<string, SortedDictionary<DateOnly, CapacityVector>>(StringComparer.OrdinalIgnoreCase);
        foreach (var sample in history)
        {
            if (!byCluster.TryGetValue(sample.Cluster, out var days))
            {
                byCluster[sample.Cluster] = days = [];
            }

            var day = DateOnly.FromDateTime(sample.At.UtcDateTime);
            days[day] = days.TryGetValue(day, out var peak) ? CapacityVector.Max(peak, sample.Used) : sample.Used;
        }

        var result = new Dictionary<string, List<CapacityVector>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (cluster, days) in byCluster)
        {
            var series = new List<CapacityVector>();
            var first = days.Keys.First();
            var last = days.Keys.Last();
            var previous = CapacityVector.Zero;
            for (var day = first; day <= last; day = day.AddDays(1))
            {
                previous = days.TryGetValue(day, out var peak) ? peak : previous;
                series.Add(previous);
            }

            result[cluster] = series;
        }

        return result;
    }
}
