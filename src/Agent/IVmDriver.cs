using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;

namespace Holdfast.Agent;

/// <summary>
/// What the agent drives on its machine: a hypervisor (or the simulated one). Operations are idempotent where the
/// hardware allows (starting a running VM is a no-op) and throw <see cref="VmDriverException"/> when the machine
/// refuses; the agent reports that as the VM's error and tries again on the next heartbeat.
/// </summary>
public interface IVmDriver
{
    /// <summary>What this machine offers, as the driver discovered it.</summary>
    HostInventory Inventory { get; }

    /// <summary>Creates a VM, stopped, at <see cref="VmSpec.Epoch"/>.</summary>
    Task CreateAsync(VmSpec spec, CancellationToken cancellationToken);

    Task StartAsync(string id, CancellationToken cancellationToken);

    Task StopAsync(string id, CancellationToken cancellationToken);

    Task RestartAsync(string id, CancellationToken cancellationToken);

    /// <summary>Deletes a VM; deleting one that does not exist is a no-op.</summary>
    Task DeleteAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<VmStatus>> ListAsync(CancellationToken cancellationToken);
}

/// <summary>A driver whose VMs have a serial console the agent reports (boot diagnostics).</summary>
public interface IVmConsoleSource
{
    /// <summary>The tail of the VM's console (at most <see cref="GuestSpec.MaxConsoleBytes"/> bytes), or null when it has none.</summary>
    string? ReadConsole(string id);
}

/// <summary>A VM to create: its id, what it uses, its size and the fencing epoch of the placement it belongs to.</summary>
public sealed record VmSpec(string Id, CapacityVector Demand, string? Size, long Epoch, GuestSpec? Guest = null);

/// <summary>One VM as the driver sees it now.</summary>
public sealed record VmStatus(string Id, PowerState PowerState, long Epoch, CapacityVector Demand, string? Size = null, string? Error = null);

/// <summary>The machine refused an operation (or the simulated driver injected a failure).</summary>
public sealed class VmDriverException : Exception
{
    public VmDriverException()
    {
    }

    public VmDriverException(string message)
        : base(message)
    {
    }

    public VmDriverException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
