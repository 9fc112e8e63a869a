using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;
using Holdfast.Fabric;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Fabric;

/// <summary>
/// Records allocation history, the forecast's input: every <see cref="HoldfastServerOptions.UsageSampleInterval"/> one
/// sample of every cluster (what is allocated on all its hosts, and the capacity of its InService hosts) at
/// <see cref="FabricKeys.UsageSample"/>, and deletes samples older than <see cref="Retention"/>.
/// </summary>
internal sealed partial class UsageSampler(IStateStore store, CapacityService capacity, HoldfastServerOptions options, TimeProvider timeProvider, ILogger<UsageSampler> logger) : BackgroundService
{
    /// <summary>How long samples are kept: a year of daily peaks plus a season to spare.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(400);

    /// <summary>Writes one sample now and prunes expired ones; returns the sample's key.</summary>
    public async Task<string> SampleAsync(CancellationToken cancellationToken)
    {
        await capacity.WaitLoadedAsync(cancellationToken).ConfigureAwait(false);
        var now = timeProvider.GetUtcNow();
        var sample = Build(capacity.Hosts(), now);
        var key = FabricKeys.UsageSample(now);
        await store.PutAsync(key, FabricJson.Serialize(sample), null, cancellationToken).ConfigureAwait(false);
        await PruneAsync(FabricKeys.UsageSample(now - Retention), cancellationToken).ConfigureAwait(false);
        return key;
    }

    /// <summary>Per cluster: allocated over every host (VMs on a draining host are still demand), total over InService hosts.</summary>
    public static UsageSampleDocument Build(IEnumerable<HostSnapshot> hosts, DateTimeOffset at)
    {
        var clusters = new SortedDictionary<string, ClusterUsage>(StringComparer.OrdinalIgnoreCase);
        foreach (var (host, record) in hosts)
        {
            var current = clusters.TryGetValue(host.Cluster, out var c) ? c : new ClusterUsage(LongVector.Zero, LongVector.Zero, 0, 0);
            var inService = host.State == HostState.InService;
            clusters[host.Cluster] = new ClusterUsage(
                current.Allocated + record.Used,
                inService ? current.Total + host.Capacity : current.Total,
                current.Hosts + 1,
                current.InServiceHosts + (inService ? 1 : 0));
        }

        return new UsageSampleDocument(at, clusters);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SampleAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (StateStoreException ex)
            {
                LogSampleFailed(logger, ex.Message);
            }

            try
            {
                await Task.Delay(options.UsageSampleInterval, timeProvider, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Deletes samples whose key sorts before <paramref name="cutoffKey"/> (keys are time-ordered).</summary>
    private async Task PruneAsync(string cutoffKey, CancellationToken cancellationToken)
    {
        while (true)
        {
            var page = await store.RangeAsync(new RangeRequest(FabricKeys.UsageHistoryPrefix, 256), cancellationToken).ConfigureAwait(false);
            var expired = page.Items.Where(kv => string.CompareOrdinal(kv.Key, cutoffKey) < 0).Select(kv => TxnOp.Delete(kv.Key)).ToList();
            if (expired.Count == 0)
            {
                return;
            }

            await store.TxnAsync(new TxnRequest([], expired), cancellationToken).ConfigureAwait(false);
            LogPruned(logger, expired.Count);
            if (expired.Count < page.Items.Count || !page.More)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Usage sample failed: {Reason}")]
    private static partial void LogSampleFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Usage history: {Count} expired samples deleted")]
    private static partial void LogPruned(ILogger logger, int count);
}

/// <summary>One usage sample at <see cref="FabricKeys.UsageSample"/>: per cluster, allocated and InService capacity.</summary>
internal sealed record UsageSampleDocument(DateTimeOffset At, IReadOnlyDictionary<string, ClusterUsage> Clusters);

/// <summary>A cluster in one sample; sums are <see cref="long"/>, so a cluster of many large hosts cannot overflow.</summary>
internal sealed record ClusterUsage(LongVector Allocated, LongVector Total, int Hosts, int InServiceHosts);

/// <summary>A <see cref="CapacityVector"/> summed over many hosts, in 64-bit integers.</summary>
internal readonly record struct LongVector(long VCpus, long MemoryMiB, long DiskGiB, long Gpus)
{
    public static LongVector Zero => default;

    public long this[int dimension] => dimension switch
    {
        0 => VCpus,
        1 => MemoryMiB,
        2 => DiskGiB,
        3 => Gpus,
        _ => throw new ArgumentOutOfRangeException(nameof(dimension)),
    };

    public static LongVector operator +(LongVector left, CapacityVector right) =>
        new(left.VCpus + right.VCpus, left.MemoryMiB + right.MemoryMiB, left.DiskGiB + right.DiskGiB, left.Gpus + right.Gpus);

    public static LongVector operator +(LongVector left, LongVector right) =>
        new(left.VCpus + right.VCpus, left.MemoryMiB + right.MemoryMiB, left.DiskGiB + right.DiskGiB, left.Gpus + right.Gpus);

    public static LongVector Add(LongVector left, LongVector right) => left + right;

    public static LongVector Max(LongVector left, LongVector right) =>
        new(Math.Max(left.VCpus, right.VCpus), Math.Max(left.MemoryMiB, right.MemoryMiB), Math.Max(left.DiskGiB, right.DiskGiB), Math.Max(left.Gpus, right.Gpus));
}
