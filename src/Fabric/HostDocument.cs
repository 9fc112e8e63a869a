using Holdfast.Capacity.Inventory;

namespace Holdfast.Fabric;

/// <summary>
/// One host as stored at <see cref="FabricKeys.Host"/>: where it sits (site → cluster → rack, the rack being its fault
/// domain; zone from the cluster), its declared capacity and traits, its lifecycle state and why, and what its agent
/// last told us at join. Heartbeats are not stored here (they would cost a durable write each); the health monitor keeps
/// them in memory and writes only state changes.
/// </summary>
public sealed record HostDocument
{
    public required string Name { get; init; }

    public required string Site { get; init; }

    public required string Cluster { get; init; }

    public string? Zone { get; init; }

    /// <summary>The rack: the host's fault domain.</summary>
    public required string Rack { get; init; }

    public int UpdateDomain { get; init; }

    public required CapacityVector Capacity { get; init; }

    public IReadOnlyList<string> Traits { get; init; } = [];

    public HostState State { get; init; } = HostState.Provisioning;

    /// <summary>Why the host is in <see cref="State"/> (an operator action, missed heartbeats, a failed validation…).</summary>
    public string? StateReason { get; init; }

    public DateTimeOffset StateChangedAt { get; init; }

    /// <summary>True for hosts run by the fleet simulator or an agent with the simulated driver: not real hardware.</summary>
    public bool Simulated { get; init; }

    /// <summary>Set when an agent joined: the thumbprint of the client certificate issued to it, and what it reported.</summary>
    public AgentRegistration? Agent { get; init; }

    public HostDescription ToDescription() => new()
    {
        Name = Name,
        Cluster = Cluster,
        Zone = Zone,
        FaultDomain = Rack,
        UpdateDomain = UpdateDomain,
        Capacity = Capacity,
        Traits = Traits,
        State = State,
    };
}

/// <summary>
/// What the server knows of a host's agent: the certificate it was issued (at join or its last renewal) and what it
/// reported when it joined. After a renewal <see cref="PreviousCertificateThumbprint"/> names the certificate the
/// renewal was made with; it stays accepted until the agent first presents the new one (so a crash before the agent
/// saved the new certificate does not lock it out), and is cleared then.
/// </summary>
public sealed record AgentRegistration
{
    /// <summary>SHA-256 of the current client certificate, lower-case hex.</summary>
    public required string CertificateThumbprint { get; init; }

    /// <summary>Set between a renewal and the agent's first use of the new certificate: the one it renewed with.</summary>
    public string? PreviousCertificateThumbprint { get; init; }

    /// <summary>When the current certificate expires (null for registrations from before renewal was built).</summary>
    public DateTimeOffset? CertificateExpiresOn { get; init; }

    /// <summary>When the certificate was last renewed (null: never, it is the one issued at join).</summary>
    public DateTimeOffset? RenewedAt { get; init; }

    public required DateTimeOffset JoinedAt { get; init; }

    public required string Driver { get; init; }

    public string? AgentVersion { get; init; }
}
