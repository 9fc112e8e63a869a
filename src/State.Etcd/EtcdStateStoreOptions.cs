using System.Globalization;

namespace Holdfast.State.Etcd;

/// <summary>Where the etcd cluster is and how long to wait for it.</summary>
public sealed class EtcdStateStoreOptions
{
    /// <summary>Client URLs of the members (http://host:port); requests go to one and fail over to the next.</summary>
    public IReadOnlyList<Uri> Endpoints { get; init; } = [];

    /// <summary>
    /// One attempt's limit. etcd holds a request for about 7 s when its leader is gone, so a shorter limit lets the client
    /// move to another member sooner; a write that times out has an unknown outcome and fails as transient.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(3);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a watch keeps reconnecting (through every endpoint) before it fails as transient.</summary>
    public TimeSpan WatchRetryTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Parses <c>etcd://host:port[,host:port…]</c> (the <c>--store</c> flag) into plain-HTTP endpoints. Throws
    /// <see cref="FormatException"/> with a message fit for an operator.
    /// </summary>
    public static EtcdStateStoreOptions Parse(string store)
    {
        ArgumentNullException.ThrowIfNull(store);
        const string Scheme = "etcd://";
        if (!store.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"An etcd store is written etcd://host:port[,host:port…], not '{store}'.");
        }

        var endpoints = new List<Uri>();
        foreach (string member in store[Scheme.Length..].TrimEnd('/').Split(','))
        {
            int colon = member.LastIndexOf(':');
            if (colon <= 0
                || !int.TryParse(member[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port)
                || port is < 1 or > 65535
                || Uri.CheckHostName(member[..colon].Trim('[', ']')) == UriHostNameType.Unknown
                || !Uri.TryCreate($"http://{member}/", UriKind.Absolute, out var endpoint))
            {
                throw new FormatException($"'{member}' in '{store}' is not host:port with a port from 1 to 65535.");
            }

            endpoints.Add(endpoint);
        }

        return new EtcdStateStoreOptions { Endpoints = endpoints };
    }
}
