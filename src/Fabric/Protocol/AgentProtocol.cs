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

    /// <summary>A joined agent's certificate renewal: mTLS with its current, still-valid certificate and a CSR for a new key.</summary>
    public const string Renew = "/agent/v1/renew";
}

/// <summary>What an agent's machine offers, as the driver discovered it.</summary>
public sealed record HostInventory(CapacityVector Capacity, IReadOnlyList<string> Traits, string Driver, bool Simulated, string AgentVersion);

public sealed record JoinRequest(string HostName, string JoinToken, string CertificateSigningRequestPem, HostInventory Inventory);

public sealed record JoinResponse(string CertificatePem, string CaCertificatePem, int HeartbeatSeconds);

/// <summary>
/// A certificate renewal, sent over mTLS with the agent's current certificate: a CSR for a new key pair (CN = the host).
/// The server answers a certificate for the same host and moves its pin to it (docs/designs/0004-fleet-and-agents.md,
/// "Certificate renewal").
/// </summary>
public sealed record RenewRequest(string HostName, string CertificateSigningRequestPem);

public sealed record RenewResponse(string CertificatePem, string CaCertificatePem);

/// <summary>
/// One VM as the agent's driver sees it now. <see cref="Console"/> is the tail of its serial console (at most
/// <see cref="GuestSpec.MaxConsoleBytes"/>), sent only when it changed since the last successful sync; null otherwise.
/// </summary>
public sealed record InstanceReport(string Id, PowerState PowerState, long Epoch, string? Error = null, string? Console = null);

/// <summary>
/// A heartbeat. <see cref="BootId"/> changes each time the agent process starts, so the server can tell a restart
/// from a long pause.
/// </summary>
public sealed record SyncRequest(string HostName, string BootId, HostInventory Inventory, IReadOnlyList<InstanceReport> Instances);

/// <summary>One VM this host should run, at the fencing epoch of its current placement.</summary>
/// <remarks><see cref="Size"/> is written even when null: FabricJson omits nulls, and a positional parameter without a default is required when read.
/// <see cref="Guest"/> (what a real driver needs to build the VM) is sent only for instances the agent did not report in
/// the sync it answers, i.e. those it is about to create.</remarks>
public sealed record DesiredInstance(string Id, CapacityVector Demand, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Size, PowerState PowerState, long Epoch, GuestSpec? Guest = null);

/// <summary>
/// A VM's guest configuration, from its ARM resource: osProfile (computer name, admin user, SSH public keys, and
/// customData, base64 as the request carried it: a secret, never logged), the image reference, disk sizes and the
/// private IP the network provider allocated to its primary NIC (with the subnet's prefix).
/// </summary>
public sealed record GuestSpec
{
    /// <summary>The most console text an agent reports per VM.</summary>
    public const int MaxConsoleBytes = 64 * 1024;

    public string? ComputerName { get; init; }

    public string? AdminUsername { get; init; }

    public IReadOnlyList<string> SshPublicKeys { get; init; } = [];

    public string? CustomData { get; init; }

    /// <summary>The image reference: an image id, or publisher:offer:sku:version.</summary>
    public string? Image { get; init; }

    public int? OsDiskSizeGb { get; init; }

    public IReadOnlyList<GuestDataDisk> DataDisks { get; init; } = [];

    public string? PrivateIpAddress { get; init; }

    /// <summary>The subnet's address prefix (CIDR) the private IP belongs to.</summary>
    public string? SubnetPrefix { get; init; }

    /// <summary>Leaves customData out, so a logged spec never carries it.</summary>
    public override string ToString() => $"GuestSpec {{ ComputerName = {ComputerName}, Image = {Image}, PrivateIpAddress = {PrivateIpAddress} }}";
}

/// <summary>A data disk of a VM: its LUN and size.</summary>
public sealed record GuestDataDisk(int Lun, int SizeGb, string? Name = null);

/// <summary>
/// The server's answer: the host's lifecycle state, the complete list of VMs it should hold (anything else must be
/// deleted), and the timing the agent must keep.
/// </summary>
public sealed record SyncResponse(HostState HostState, IReadOnlyList<DesiredInstance> Desired, int HeartbeatSeconds, int SelfFenceSeconds);
