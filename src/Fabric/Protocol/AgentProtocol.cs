using System.Text.Json.Serialization;
using Holdfast.Capacity.Inventory;

namespace Holdfast.Fabric.Protocol;

/// <summary>
/// The host agent's protocol: JSON over HTTPS on the server's agent port. An agent joins once with a one-time token
/// and a certificate signing request (<see cref="JoinRequest"/> → <see cref="JoinResponse"/>); from then on it calls
/// <see cref="Paths.Sync"/> with its client certificate (mTLS; the certificate's CN is the host name) every
/// <see cref="JoinResponse.HeartbeatSeconds"/>: a heartbeat that reports inventory and the actual state of its VMs and
/// gets back the desired ones. Level-based: the agent converges its driver to the desired list, deleting anything not
/// on it (which is how a returning host is fenced), and stops every VM by itself when it has not synced for
/// <see cref="SyncResponse.SelfFenceSeconds"/> (the server re-places a host's VMs only after longer than that).
/// </summary>
public static class Paths
{
    public const string Join = "/agent/v1/join";
    public const string Sync = "/agent/v1/sync";
}

/// <summary>What an agent's machine offers, as the driver discovered it.</summary>
public sealed record HostInventory(CapacityVector Capacity, IReadOnlyList<string> Traits, string Driver, bool Simulated, string AgentVersion);

public sealed record JoinRequest(string HostName, string JoinToken, string CertificateSigningRequestPem, HostInventory Inventory);

public sealed record JoinResponse(string CertificatePem, string CaCertificatePem, int HeartbeatSeconds);

/// <summary>One VM as the agent's driver sees it now.</summary>
public sealed record InstanceReport(string Id, PowerState PowerState, long Epoch, string? Error = null);

/// <summary>
/// A heartbeat. <see cref="BootId"/> changes each time the agent process starts, so the server can tell a restart
/// from a long pause.
/// </summary>
public sealed record SyncRequest(string HostName, string BootId, HostInventory Inventory, IReadOnlyList<InstanceReport> Instances);

/// <summary>One VM this host should run, at the fencing epoch of its current placement.</summary>
/// <remarks><see cref="Size"/> is written even when null: FabricJson omits nulls, and a positional parameter without a default is required when read.</remarks>
public sealed record DesiredInstance(string Id, CapacityVector Demand, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Size, PowerState PowerState, long Epoch);

/// <summary>
/// The server's answer: the host's lifecycle state, the complete list of VMs it should hold (anything else must be
/// deleted), and the timing the agent must keep.
/// </summary>
public sealed record SyncResponse(HostState HostState, IReadOnlyList<DesiredInstance> Desired, int HeartbeatSeconds, int SelfFenceSeconds);
