using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;

namespace Holdfast.Fabric;

/// <summary>
/// One VM as the fabric sees it, at <see cref="FabricKeys.Instance"/> (the id is the allocation id on the host's
/// record): the host it is placed on, what it uses, the groups placement honours, the power state it should be in, and
/// the fencing <see cref="Epoch"/>, bumped on every (re)placement so a stale copy on a returning host is recognised.
/// <see cref="Host"/> is null while the VM waits for capacity (healing found no room), with <see cref="Error"/> saying why.
/// The agent's last report of the VM is <see cref="Observed"/>, written only when it changes.
/// </summary>
public sealed record InstanceDocument
{
    public required string Id { get; init; }

    /// <summary>The ARM resource this instance backs (a virtual machine), when there is one.</summary>
    public string? ResourceId { get; init; }

    public string? SubscriptionId { get; init; }

    public string? Host { get; init; }

    public required CapacityVector Demand { get; init; }

    /// <summary>The VM size (e.g. Standard_D2s_v3), for quota accounting and the agent's driver.</summary>
    public string? Size { get; init; }

    public string? ReservationId { get; init; }

    public string? AvailabilitySet { get; init; }

    public string? AntiAffinityGroup { get; init; }

    public string? Cluster { get; init; }

    /// <summary>The availability zone the VM is pinned to (its <c>zones</c>), or null for any.</summary>
    public string? Zone { get; init; }

    public IReadOnlyList<string> RequiredTraits { get; init; } = [];

    public PowerState DesiredPowerState { get; init; } = PowerState.Running;

    public long Epoch { get; init; }

    public ObservedInstance? Observed { get; init; }

    public string? Error { get; init; }

    public PlacementRequest ToRequest() => new(Id, Demand)
    {
        Cluster = Cluster,
        Zone = Zone,
        RequiredTraits = RequiredTraits,
        ReservationId = ReservationId,
        AvailabilitySet = AvailabilitySet,
        AntiAffinityGroup = AntiAffinityGroup,
    };
}

/// <summary>What the host agent last reported of an instance.</summary>
public sealed record ObservedInstance(string Host, PowerState PowerState, long Epoch, DateTimeOffset At, string? Error = null);

/// <summary>A VM's power state, as Azure names them (<c>PowerState/running</c> …).</summary>
public enum PowerState
{
    Starting,
    Running,
    Stopping,
    Stopped,
    Deallocating,
    Deallocated,
    Unknown,
}
