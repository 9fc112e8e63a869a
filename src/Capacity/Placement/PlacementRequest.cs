using Holdfast.Capacity.Inventory;

namespace Holdfast.Capacity.Placement;

/// <summary>
/// A request to place one VM: its allocation id and demand, the hard constraints (cluster and zone pinning, required
/// traits, the capacity reservation it may draw on) and the soft ones scorers weigh (availability set spread,
/// anti-affinity).
/// </summary>
public sealed record PlacementRequest(string AllocationId, CapacityVector Demand)
{
    /// <summary>Only hosts of this cluster (case-insensitive).</summary>
    public string? Cluster { get; init; }

    /// <summary>Only hosts of this availability zone (case-insensitive).</summary>
    public string? Zone { get; init; }

    /// <summary>Traits every candidate host must have (case-insensitive).</summary>
    public IReadOnlyList<string> RequiredTraits { get; init; } = [];

    /// <summary>The capacity reservation whose held capacity this VM may use.</summary>
    public string? ReservationId { get; init; }

    /// <summary>Availability set: members are spread over fault domains first, then update domains.</summary>
    public string? AvailabilitySet { get; init; }

    /// <summary>Anti-affinity group: members avoid sharing a host.</summary>
    public string? AntiAffinityGroup { get; init; }

    /// <summary>The allocation this request becomes once committed.</summary>
    public Allocation ToAllocation() => new(AllocationId, Demand)
    {
        ReservationId = ReservationId,
        AvailabilitySet = AvailabilitySet,
        AntiAffinityGroup = AntiAffinityGroup,
    };

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(AllocationId, nameof(AllocationId));
        if (!Demand.IsNonNegative || Demand.IsZero)
        {
            throw new ArgumentException("A placement request must ask for a positive amount of some resource and none negative.", nameof(Demand));
        }
    }
}
