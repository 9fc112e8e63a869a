namespace Holdfast.Capacity.Inventory;

/// <summary>
/// Where a host is in its life. Only <see cref="InService"/> hosts take new VMs; <see cref="HostLifecycle"/> holds the
/// legal transitions.
/// </summary>
public enum HostState
{
    /// <summary>Registered (joined), not yet checked.</summary>
    Provisioning,

    /// <summary>Being checked (inventory, burn-in) before it may take VMs.</summary>
    Validating,

    /// <summary>Healthy and taking VMs.</summary>
    InService,

    /// <summary>Takes no new VMs; its VMs are being moved off.</summary>
    Draining,

    /// <summary>Empty and out of service for repair or updates; must validate again before service.</summary>
    Maintenance,

    /// <summary>Retired for good (terminal).</summary>
    Decommissioned,

    /// <summary>Missed heartbeats; its VMs are presumed running but cannot be managed.</summary>
    Unreachable,

    /// <summary>Declared dead; its VMs are re-placed elsewhere and the host is fenced if it returns.</summary>
    Failed,
}
