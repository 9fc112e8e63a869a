using Holdfast.Capacity.Inventory;

namespace Holdfast.Capacity.Placement;

/// <summary>
/// One VM's share of a host: its id (unique across the fleet), what it uses, and the groups placement honours — the
/// capacity reservation it draws on, its availability set (spread over fault and update domains) and its
/// anti-affinity group (kept off hosts that already hold a member).
/// </summary>
public sealed record Allocation(string Id, CapacityVector Demand)
{
    public string? ReservationId { get; init; }

    public string? AvailabilitySet { get; init; }

    public string? AntiAffinityGroup { get; init; }
}

/// <summary>
/// Capacity set aside on a host for a capacity reservation: only allocations naming <see cref="ReservationId"/> may use
/// it; they consume it first, and beyond it they use the host's ordinary free capacity.
/// </summary>
public sealed record ReservationHold(string ReservationId, CapacityVector Held);
