namespace Holdfast.Capacity.Inventory;

/// <summary>
/// What placement needs to know about one host: its identity and position in the fleet (cluster, optional zone,
/// fault domain = its rack, update domain), its capacity, its traits (CPU generation, GPU model, SSD…, compared
/// case-insensitively) and its lifecycle state. Allocations are kept apart, in a versioned record per host.
/// </summary>
public sealed record HostDescription
{
    public required string Name { get; init; }

    public required string Cluster { get; init; }

    /// <summary>Availability zone, when the site has zones.</summary>
    public string? Zone { get; init; }

    /// <summary>The fault domain: the rack (shared power and top-of-rack switch).</summary>
    public required string FaultDomain { get; init; }

    /// <summary>The update domain: hosts that are patched or rebooted together.</summary>
    public int UpdateDomain { get; init; }

    public required CapacityVector Capacity { get; init; }

    public IReadOnlyList<string> Traits { get; init; } = [];

    public HostState State { get; init; } = HostState.InService;

    /// <summary>Checks the description; throws <see cref="ArgumentException"/> naming the first bad field.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Name, nameof(Name));
        ArgumentException.ThrowIfNullOrWhiteSpace(Cluster, nameof(Cluster));
        ArgumentException.ThrowIfNullOrWhiteSpace(FaultDomain, nameof(FaultDomain));
        ArgumentOutOfRangeException.ThrowIfNegative(UpdateDomain, nameof(UpdateDomain));
        if (!Capacity.IsNonNegative)
        {
            throw new ArgumentException("A host's capacity cannot be negative.", nameof(Capacity));
        }

        if (!Enum.IsDefined(State))
        {
            throw new ArgumentException($"Unknown host state {State}.", nameof(State));
        }
    }
}
