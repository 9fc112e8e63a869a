using System.Diagnostics;
using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;

namespace Holdfast.Commands.Bench;

/// <summary>What one <c>holdfast bench placement</c> run measured.</summary>
internal sealed record PlacementBenchmarkResult(
    CapacityVector HostShape,
    int Hosts,
    int MeasuredDecisions,
    double FleetVCpuUtilization,
    double P50Ms,
    double P99Ms,
    double DecisionsPerSecond,
    int TraceVms,
    int HostsUsedPeak,
    int FirstFitHostsUsedPeak,
    int LowerBoundPeak);

/// <summary>
/// The placement benchmark of issue 4 §8, in two parts.
/// <para>
/// Decisions: a fleet of N hosts of one shape (default <see cref="DefaultHostShape"/>) (clusters of 1,000, racks of 20 as fault domains, five
/// update domains) is filled with trace VMs, in trace order, to <see cref="FillVCpuUtilization"/> of its vCPUs; then,
/// in steady state, each step frees a random running VM and places the next trace VM (every tenth in one of 500
/// availability sets). A decision is <see cref="PlacementIndex.Decide"/> plus <see cref="PlacementIndex.TryCommit"/>;
/// p50/p99 are nearest-rank over every measured decision's own time; decisions/s is measured decisions ÷ wall time of
/// the measured loop, frees included.
/// </para>
/// <para>
/// Packing: the trace's arrivals and departures replayed in time order on hosts of one shape (default <see cref="DefaultHostShape"/>), opening a
/// host only when nothing fits, with our placer and with first-fit (hosts in the order opened); the peak of hosts in
/// use (holding a VM), and the lower bound: the maximum over time of the largest per-dimension Σ demand ÷ host
/// capacity, rounded up.
/// </para>
/// </summary>
internal static class PlacementBenchmark
{
    /// <summary>The default shape: 64 vCPUs, 256 GiB, 2 TiB local disk, no GPUs — a two-socket 16-core SMT server, like Azure's Dsv3-class hosts.</summary>
    public static readonly CapacityVector DefaultHostShape = new(64, 256 * 1024, 2048, 0);

    public const double FillVCpuUtilization = 0.85;

    private const int HostsPerCluster = 1000;
    private const int HostsPerRack = 20;
    private const int UpdateDomains = 5;

    public static PlacementBenchmarkResult Run(IReadOnlyList<TraceVm> trace, CapacityVector hostShape, int hosts, int decisions, int seed)
    {
        var (p50, p99, perSecond, utilization) = MeasureDecisions(trace, hostShape, hosts, decisions, seed);
        var (placer, firstFit, lowerBound) = ReplayPacking(trace, hostShape);
        return new PlacementBenchmarkResult(hostShape, hosts, decisions, utilization, p50, p99, perSecond, trace.Count, placer, firstFit, lowerBound);
    }

    private static (double P50, double P99, double PerSecond, double Utilization) MeasureDecisions(IReadOnlyList<TraceVm> trace, CapacityVector HostShape, int hostCount, int decisions, int seed)
    {
        var index = new PlacementIndex();
        for (var i = 0; i < hostCount; i++)
        {
            index.UpsertHost(new HostDescription
            {
                Name = $"host-{i:D6}",
                Cluster = $"cluster-{i / HostsPerCluster}",
                FaultDomain = $"rack-{i / HostsPerRack}",
                UpdateDomain = i % UpdateDomains,
                Capacity = HostShape,
                Traits = i % 2 == 0 ? ["ssd", "gen5"] : ["ssd", "gen4"],
            });
        }

        var random = new Random(seed);
        var live = new List<string>();
        var next = 0;
        long usedVCpus = 0;
        var target = (long)(FillVCpuUtilization * hostCount * HostShape.VCpus);
        PlacementRequest Request()
        {
            var vm = trace[next % trace.Count];
            var request = new PlacementRequest($"vm-{next}", new CapacityVector(vm.VCpus, vm.MemoryMiB, 0, 0))
            {
                AvailabilitySet = next % 10 == 0 ? $"as-{(next / 10) % 500}" : null,
            };
            next++;
            return request;
        }

        while (usedVCpus < target)
        {
            var request = Request();
            if (!index.Place(request).IsPlaced)
            {
                break;
            }

            live.Add(request.AllocationId);
            usedVCpus += request.Demand.VCpus;
        }

        var utilization = (double)usedVCpus / ((long)hostCount * HostShape.VCpus);
        var latencies = new double[decisions];
        var measured = 0;
        var warmUp = Math.Min(decisions, 20_000);
        var loop = Stopwatch.StartNew();
        for (var step = -warmUp; step < decisions; step++)
        {
            if (step == 0)
            {
                loop.Restart();
            }

            var victim = random.Next(live.Count);
            var freed = live[victim];
            live[victim] = live[^1];
            live.RemoveAt(live.Count - 1);
            index.Free(freed);

            var request = Request();
            var start = Stopwatch.GetTimestamp();
            var decision = index.Decide(request);
            var committed = decision.IsPlaced && index.TryCommit(decision).Status == CommitStatus.Committed;
            var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (step >= 0)
            {
                latencies[measured++] = elapsed;
            }

            if (committed)
            {
                live.Add(request.AllocationId);
            }
        }

        var seconds = loop.Elapsed.TotalSeconds;
        Array.Sort(latencies, 0, measured);
        return (NearestRank(latencies, measured, 0.50), NearestRank(latencies, measured, 0.99), measured / seconds, utilization);
    }

    private static (int Placer, int FirstFit, int LowerBound) ReplayPacking(IReadOnlyList<TraceVm> trace, CapacityVector HostShape)
    {
        var index = new PlacementIndex();
        var firstFit = new FirstFitPacker(HostShape);
        var departures = new PriorityQueue<int, double>();
        var hostsOpened = 0;
        var occupied = new Dictionary<string, int>(StringComparer.Ordinal);
        int peak = 0, lowerBound = 0;
        long sumVCpus = 0, sumMemory = 0;
        for (var i = 0; i < trace.Count; i++)
        {
            var vm = trace[i];
            while (departures.TryPeek(out var leaving, out var at) && at <= vm.ArrivalSeconds)
            {
                departures.Dequeue();
                var host = index.HostOf(Id(leaving))!;
                index.Free(Id(leaving));
                if (--occupied[host] == 0)
                {
                    occupied.Remove(host);
                }

                firstFit.Free(leaving);
                sumVCpus -= trace[leaving].VCpus;
                sumMemory -= trace[leaving].MemoryMiB;
            }

            var request = new PlacementRequest(Id(i), new CapacityVector(vm.VCpus, vm.MemoryMiB, 0, 0));
            var decision = index.Place(request);
            if (!decision.IsPlaced)
            {
                index.UpsertHost(new HostDescription { Name = $"host-{hostsOpened++}", Cluster = "replay", FaultDomain = "rack", Capacity = HostShape });
                decision = index.Place(request);
            }

            occupied[decision.HostName!] = occupied.GetValueOrDefault(decision.HostName!) + 1;
            firstFit.Place(i, vm.VCpus, vm.MemoryMiB);
            if (vm.DepartureSeconds is { } departure)
            {
                departures.Enqueue(i, departure);
            }

            sumVCpus += vm.VCpus;
            sumMemory += vm.MemoryMiB;
            peak = Math.Max(peak, occupied.Count);
            lowerBound = Math.Max(lowerBound, (int)Math.Max(CeilDiv(sumVCpus, HostShape.VCpus), CeilDiv(sumMemory, HostShape.MemoryMiB)));
        }

        return (peak, firstFit.PeakHostsInUse, lowerBound);
    }

    private static string Id(int traceIndex) => "vm-" + traceIndex.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static long CeilDiv(long value, long divisor) => (value + divisor - 1) / divisor;

    private static double NearestRank(double[] sorted, int count, double quantile) =>
        count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(quantile * count) - 1, 0, count - 1)];

    /// <summary>First-fit: hosts in the order opened; a VM goes to the first with room, a new host only when none has.</summary>
    private sealed class FirstFitPacker(CapacityVector shape)
    {
        private readonly List<(int VCpus, int MemoryMiB, int Vms)> _hosts = [];
        private readonly Dictionary<int, (int Host, int VCpus, int MemoryMiB)> _placed = [];
        private int _inUse;

        public int PeakHostsInUse { get; private set; }

        public void Place(int vm, int vCpus, int memoryMiB)
        {
            var host = 0;
            while (host < _hosts.Count && (_hosts[host].VCpus < vCpus || _hosts[host].MemoryMiB < memoryMiB))
            {
                host++;
            }

            if (host == _hosts.Count)
            {
                _hosts.Add((shape.VCpus, shape.MemoryMiB, 0));
            }

            var (freeCpu, freeMemory, vms) = _hosts[host];
            _hosts[host] = (freeCpu - vCpus, freeMemory - memoryMiB, vms + 1);
            _placed[vm] = (host, vCpus, memoryMiB);
            if (vms == 0)
            {
                PeakHostsInUse = Math.Max(PeakHostsInUse, ++_inUse);
            }
        }

        public void Free(int vm)
        {
            _placed.Remove(vm, out var placed);
            var (freeCpu, freeMemory, vms) = _hosts[placed.Host];
            _hosts[placed.Host] = (freeCpu + placed.VCpus, freeMemory + placed.MemoryMiB, vms - 1);
            if (vms == 1)
            {
                _inUse--;
            }
        }
    }
}
