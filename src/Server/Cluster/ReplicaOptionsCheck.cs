namespace Holdfast.Server.Cluster;

/// <summary>The replica flags' rules (<c>--replica-id</c>, <c>--leader-lease-seconds</c>), as sentences naming the flags.</summary>
public static class ReplicaOptionsCheck
{
    public static IReadOnlyList<string> Errors(HoldfastServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.ReplicaId is { } id && (id.Length is 0 or > 63 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            errors.Add($"--replica-id must be 1 to 63 letters, digits, '-', '_' or '.', not '{id}'.");
        }

        if (options.LeaderLeaseSeconds is < 2 or > 60)
        {
            errors.Add($"--leader-lease-seconds must be between 2 and 60, not {options.LeaderLeaseSeconds}.");
        }

        return errors;
    }
}
