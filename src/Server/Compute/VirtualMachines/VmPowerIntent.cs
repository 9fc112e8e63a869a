using System.Text.Json;

namespace Holdfast.Server.Compute.VirtualMachines;

/// <summary>
/// What a VM's power actions asked for that its instance document cannot hold, at <see cref="Key"/>: that it is
/// deallocated (its instance is freed, and must not be placed again until <c>start</c>), or that a restart is half done
/// (stopped, to be started), or that a redeploy asked to move the instance off the host it had at epoch
/// <see cref="RedeployFromEpoch"/> (done once the instance's epoch is past it), or that a resize found no room and was
/// undone (<see cref="ResizeError"/>: the operation fails with it). Absent means none. Removed with the VM.
/// </summary>
internal sealed record VmPowerIntent(bool Deallocated = false, bool Restart = false, long? RedeployFromEpoch = null, string? ResizeError = null)
{
    public const string Prefix = "/capacity/vmpower/";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string Key(string instanceId) => Prefix + instanceId.ToLowerInvariant();

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static VmPowerIntent Parse(ReadOnlyMemory<byte> value) => JsonSerializer.Deserialize<VmPowerIntent>(value.Span, Json) ?? new VmPowerIntent();
}
