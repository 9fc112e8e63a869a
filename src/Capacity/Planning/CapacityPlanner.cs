using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;

namespace Holdfast.Capacity.Planning;

/// <summary>
/// A cluster's capacity picture over its InService hosts: capacity, what is allocated, what reservations hold unused,
/// and what is stranded — free capacity on hosts that cannot take even the smallest VM size because some other
/// dimension is used up (memory left on a host with no vCPUs left can never be sold).
/// </summary>
public sealed record ClusterUtilization(string Cluster, int Hosts, int InServiceHosts, CapacityVector Capacity, CapacityVector Used, CapacityVector ReservedUnused, CapacityVector Stranded)
{
    /// <summary>Allocated ÷ capacity of dimension <paramref name="dimension"/> (0 when the cluster has none of it).</summary>
    public double Utilization(int dimension) => Capacity[dimension] == 0 ? 0 : (double)Used[dimension] / Capacity[dimension];

    /// <summary>Stranded ÷ capacity of dimension <paramref name="dimension"/>.</summary>
    public double StrandedFraction(int dimension) => Capacity[dimension] == 0 ? 0 : (double)Stranded[dimension] / Capacity[dimension];
}

/// <summary>The answer to "can N VMs of this size be placed now, and where?" — computed on a copy, nothing committed.</summary>
public sealed record WhatIfResult(int Requested, int Placeable, IReadOnlyDictionary<string, int> PerHost, PlacementExplanation? Shortfall)
{
    public bool AllPlaceable => Placeable == Requested;
}

/// <summary>Planning views over a <see cref="PlacementIndex"/>: utilization, stranded capacity and what-if.</summary>
public static class CapacityPlanner
{
    /// <summary>
    /// Utilization per cluster and dimension. <paramref name="smallestVm"/> is the smallest size sold: a host whose
    /// free capacity cannot hold it has all its free capacity counted as stranded.
    /// </summary>
    public static IReadOnlyList<ClusterUtilization> Utilization(IEnumerable<HostSnapshot> hosts, CapacityVector smallestVm)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        var clusters = new SortedDictionary<string, ClusterUtilization>(StringComparer.OrdinalIgnoreCase);
        foreach (var (host, record) in hosts)
        {
            var current = clusters.TryGetValue(host.Cluster, out var c)
                ? c
                : new ClusterUtilization(host.Cluster, 0, 0, default, default, default, default);
            current = current with { Hosts = current.Hosts + 1 };
            if (host.State == HostState.InService)
            {
                var reserved = record.UnusedReserved;
                var free = host.Capacity - record.Used - reserved;
                current = current with
                {
                    InServiceHosts = current.InServiceHosts + 1,
                    Capacity = current.Capacity + host.Capacity,
                    Used = current.Used + record.Used,
                    ReservedUnused = current.ReservedUnused + reserved,
                    Stranded = current.Stranded + (free.Fits(smallestVm) ? CapacityVector.Zero : CapacityVector.Max(free, CapacityVector.Zero)),
                };
            }

            clusters[host.Cluster] = current;
        }

        return [.. clusters.Values];
    }

    /// <summary>
    /// Places <paramref name="count"/> copies of <paramref name="template"/> on a copy of <paramref name="index"/>
    /// (allocation ids get a <c>#n</c> suffix) and reports how many fit and on which hosts; when some do not, the
    /// explanation for the first that did not. The index itself is not changed.
    /// </summary>
    public static WhatIfResult WhatIf(PlacementIndex index, PlacementRequest template, int count)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(template);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var scratch = index.Clone();
        var perHost = new SortedDictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < count; i++)
        {
            var decision = scratch.Place(template with { AllocationId = $"{template.AllocationId}#{i}" });
            if (!decision.IsPlaced)
            {
                return new WhatIfResult(count, i, perHost, decision.Explanation);
            }

            perHost[decision.HostName!] = perHost.GetValueOrDefault(decision.HostName!) + 1;
        }

        return new WhatIfResult(count, count, perHost, null);
    }
}
