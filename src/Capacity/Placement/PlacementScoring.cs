using Holdfast.Capacity.Inventory;

namespace Holdfast.Capacity.Placement;

/// <summary>
/// The scorers; a host's score is their sum and the lowest score wins. Weights are ordered so a softer goal never
/// outweighs a stronger one: anti-affinity (another group member on the host) ≫ fault-domain spread ≫ update-domain
/// spread ≫ a fresh host for an availability set ≫ packing (best fit, stranding, GPU hosts kept for GPU work), which is always below 4.
/// </summary>
public static class PlacementScoring
{
    /// <summary>Per group member already on the host.</summary>
    public const double AntiAffinityWeight = 1_000_000;

    /// <summary>Per availability-set member already in the host's fault domain.</summary>
    public const double FaultDomainWeight = 10_000;

    /// <summary>Per availability-set member already in the host's update domain.</summary>
    public const double UpdateDomainWeight = 100;

    /// <summary>Per availability-set member already on the host: among equally spread hosts, prefer a fresh one.</summary>
    public const double SameHostWeight = 10;

    /// <summary>Weight of leftover imbalance: one dimension used up while another is left idle is stranded capacity.</summary>
    public const double StrandingWeight = 0.5;

    /// <summary>Added when a VM that needs no GPU would take a GPU host's vCPUs or memory.</summary>
    public const double GpuHostPenalty = 1.0;

    /// <summary>
    /// Multi-dimensional best fit: the mean fraction of each dimension left free on the host after placing
    /// <paramref name="demand"/> (smaller = tighter fit), plus <see cref="StrandingWeight"/> × the spread between the
    /// most- and least-left dimension (a host left with memory but no vCPUs strands its memory), plus
    /// <see cref="GpuHostPenalty"/> for a non-GPU VM on a GPU host. vCPUs and memory always count; disk and GPUs count
    /// when the VM asks for them, so a VM that needs no disk is not steered by how full the disks are.
    /// </summary>
    public static double Packing(CapacityVector capacity, CapacityVector free, CapacityVector demand)
    {
        double sum = 0, min = double.MaxValue, max = double.MinValue;
        var count = 0;
        for (var d = 0; d < CapacityVector.Dimensions; d++)
        {
            var total = capacity[d];
            if (total <= 0 || (d >= 2 && demand[d] == 0))
            {
                continue;
            }

            var left = (double)(free[d] - demand[d]) / total;
            sum += left;
            min = Math.Min(min, left);
            max = Math.Max(max, left);
            count++;
        }

        var score = count == 0 ? 0 : (sum / count) + (StrandingWeight * (max - min));
        return demand.Gpus == 0 && capacity.Gpus > 0 ? score + GpuHostPenalty : score;
    }

    /// <summary>Availability-set spread: members already in the host's fault domain, then its update domain, then on the host.</summary>
    public static double Spread(int membersInFaultDomain, int membersInUpdateDomain, int membersOnHost) =>
        (membersInFaultDomain * FaultDomainWeight) + (membersInUpdateDomain * UpdateDomainWeight) + (membersOnHost * SameHostWeight);

    /// <summary>Anti-affinity: members of the VM's group already on the host.</summary>
    public static double AntiAffinity(int membersOnHost) => membersOnHost * AntiAffinityWeight;
}
