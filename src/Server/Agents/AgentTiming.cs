namespace Holdfast.Server.Agents;

/// <summary>
/// The health timing rules (docs/designs/0004-fleet-and-agents.md, "Health, healing, fencing"): a heartbeat of at least
/// a second, Unreachable after more than one heartbeat, and Failed only after an agent's self-fence time
/// (Unreachable time + one heartbeat), so a partitioned host has stopped its VMs before they are re-placed.
/// </summary>
internal static class AgentTiming
{
    /// <summary>Every rule the options break, as sentences naming the flags; empty when they are consistent.</summary>
    public static IReadOnlyList<string> Validate(HoldfastServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.AgentPort is < 0 or > 65535)
        {
            errors.Add($"--agent-port must be between 0 and 65535, not {options.AgentPort}.");
        }

        if (options.HeartbeatSeconds < 1)
        {
            errors.Add($"--heartbeat-seconds must be at least 1, not {options.HeartbeatSeconds}.");
        }

        if (options.UnreachableAfterSeconds <= options.HeartbeatSeconds)
        {
            errors.Add($"--unreachable-after-seconds ({options.UnreachableAfterSeconds}) must be more than --heartbeat-seconds ({options.HeartbeatSeconds}).");
        }

        if (options.FailedAfterSeconds <= options.SelfFenceSeconds)
        {
            errors.Add($"--failed-after-seconds ({options.FailedAfterSeconds}) must be more than the agents' self-fence time, --unreachable-after-seconds + --heartbeat-seconds ({options.SelfFenceSeconds}).");
        }

        if (AgentCertificateLifetime.Check(options.AgentCertificateValidity) is { } validityError)
        {
            errors.Add(validityError);
        }

        if (options.SimulatedHosts is < 0 or > 100_000)
        {
            errors.Add($"--simulated-hosts must be between 0 and 100000, not {options.SimulatedHosts}.");
        }

        return errors;
    }
}

/// <summary>The check <c>holdfast serve</c> runs on its flags before starting (the same rules as <see cref="AgentTiming"/>).</summary>
public static class AgentTimingCheck
{
    public static IReadOnlyList<string> Errors(HoldfastServerOptions options) => AgentTiming.Validate(options);
}
