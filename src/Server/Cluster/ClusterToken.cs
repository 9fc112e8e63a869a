using Holdfast.Server.Bootstrap;

namespace Holdfast.Server.Cluster;

/// <summary>
/// The shared secret every replica of one cluster is started with (<c>serve --cluster-token-file PATH</c> or the
/// environment variable <see cref="EnvironmentVariable"/>); the key for <c>/cluster/secrets/*</c> derives from it. Its
/// text never appears in <see cref="ToString"/>, so it cannot reach a log by accident.
/// </summary>
public sealed class ClusterToken
{
    public const string EnvironmentVariable = "HOLDFAST_CLUSTER_TOKEN";

    /// <summary>At least this many characters (e.g. <c>openssl rand -hex 32</c> gives 64).</summary>
    public const int MinimumLength = 16;

    private ClusterToken(string value)
    {
        Value = value;
    }

    internal string Value { get; }

    /// <summary>A token from its text (surrounding white space trimmed); <see cref="StartupException"/> when too short.</summary>
    public static ClusterToken Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var value = text.Trim();
        return value.Length >= MinimumLength
            ? new ClusterToken(value)
            : throw new StartupException($"The cluster token must be at least {MinimumLength} characters (e.g. 'openssl rand -hex 32').");
    }

    /// <summary>
    /// The token from <paramref name="tokenFile"/> when given, else from <see cref="EnvironmentVariable"/>; null when
    /// neither is set. <see cref="StartupException"/> when the file cannot be read or the token is too short.
    /// </summary>
    public static ClusterToken? Resolve(string? tokenFile)
    {
        if (tokenFile is not null)
        {
            try
            {
                return Parse(File.ReadAllText(tokenFile));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new StartupException($"The cluster token file '{tokenFile}' cannot be read: {ex.Message}");
            }
        }

        return Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment ? Parse(fromEnvironment) : null;
    }

    public override string ToString() => "ClusterToken(redacted)";
}
