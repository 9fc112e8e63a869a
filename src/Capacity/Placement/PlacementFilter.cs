namespace Holdfast.Capacity.Placement;

/// <summary>
/// The hard filters, in the order they are applied; a host is counted against the first filter that rejects it (as
/// OpenStack's filter scheduler reports "filter X returned N hosts"), so an explanation adds up to the fleet size.
/// </summary>
public enum PlacementFilter
{
    /// <summary>The host is not InService (provisioning, validating, draining, in maintenance, unreachable, failed…).</summary>
    State,

    /// <summary>The host is outside the requested cluster or zone.</summary>
    Location,

    /// <summary>The host lacks a required trait.</summary>
    Traits,

    /// <summary>The host has too little capacity even counting capacity held for reservations.</summary>
    Capacity,

    /// <summary>The host would fit but for capacity held for a reservation the request does not name.</summary>
    Reservation,
}
