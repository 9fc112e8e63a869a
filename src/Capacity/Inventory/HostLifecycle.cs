namespace Holdfast.Capacity.Inventory;

/// <summary>
/// The host lifecycle transition table. Provisioning → Validating → InService → Draining → Maintenance →
/// Decommissioned is the main path; any live host can become Failed, a managed host Unreachable. A host only enters
/// service from Validating (a new or repaired host must pass validation first) or from Unreachable when it comes back
/// before being declared Failed; Decommissioned is terminal. Decommissioning and entering Maintenance need an empty host.
/// </summary>
public static class HostLifecycle
{
    private static readonly Dictionary<HostState, HostState[]> Allowed = new()
    {
        [HostState.Provisioning] = [HostState.Validating, HostState.Failed, HostState.Decommissioned],
        [HostState.Validating] = [HostState.InService, HostState.Maintenance, HostState.Failed, HostState.Decommissioned],
        [HostState.InService] = [HostState.Draining, HostState.Unreachable, HostState.Failed],
        [HostState.Draining] = [HostState.InService, HostState.Maintenance, HostState.Decommissioned, HostState.Unreachable, HostState.Failed],
        [HostState.Maintenance] = [HostState.Validating, HostState.Decommissioned, HostState.Failed],
        [HostState.Unreachable] = [HostState.InService, HostState.Draining, HostState.Failed],
        [HostState.Failed] = [HostState.Maintenance, HostState.Decommissioned],
        [HostState.Decommissioned] = [],
    };

    /// <summary>The states <paramref name="from"/> may move to.</summary>
    public static IReadOnlyList<HostState> NextStates(HostState from) =>
        Allowed.TryGetValue(from, out var next) ? next : throw new ArgumentOutOfRangeException(nameof(from), from, "Unknown host state.");

    /// <summary>
    /// Whether a host in <paramref name="from"/> holding <paramref name="placedVms"/> VMs may move to
    /// <paramref name="to"/>; a refusal carries a sentence an operator can act on.
    /// </summary>
    public static HostTransition Check(HostState from, HostState to, int placedVms)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(placedVms);
        if (from == to)
        {
            return HostTransition.Refuse(from, to, $"The host is already {from}.");
        }

        if (!NextStates(from).Contains(to))
        {
            var reason = from == HostState.Decommissioned
                ? "A decommissioned host cannot change state."
                : to == HostState.InService && from is HostState.Provisioning or HostState.Maintenance or HostState.Failed
                    ? $"A host in {from} must pass validation (Validating) before it returns to service."
                    : $"A host cannot move from {from} to {to}; from {from} it may move to {string.Join(", ", NextStates(from))}.";
            return HostTransition.Refuse(from, to, reason);
        }

        if (placedVms > 0 && to is HostState.Decommissioned or HostState.Maintenance)
        {
            return HostTransition.Refuse(from, to, $"The host still holds {placedVms} VM(s); drain it before it enters {to}.");
        }

        return new HostTransition(from, to, true, null);
    }
}

/// <summary>The answer of <see cref="HostLifecycle.Check"/>: allowed, or refused with <see cref="Reason"/>.</summary>
public sealed record HostTransition(HostState From, HostState To, bool IsAllowed, string? Reason)
{
    internal static HostTransition Refuse(HostState from, HostState to, string reason) => new(from, to, false, reason);
}
