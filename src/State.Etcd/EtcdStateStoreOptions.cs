using System.Globalization;

namespace Holdfast.State.Etcd;

/// <summary>Where the etcd cluster is and how long to wait for it.</summary>
public sealed class EtcdStateStoreOptions
{
    /// <summary>Client URLs of the members (http:// or https://host:port); requests go to one and fail over to the next.</summary>
    public IReadOnlyList<Uri> Endpoints { get; init; } = [];

    /// <summary>
    /// One attempt's limit. etcd holds a request for about 7 s when its leader is gone, so a shorter limit lets the client
    /// move to another member sooner; a write that times out has an unknown outcome and fails as transient.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(3);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>TLS for https endpoints (<c>etcds://</c>); required with them, refused without them.</summary>
    public EtcdClientTls? Tls { get; init; }

    /// <summary>Which of etcd's APIs the store speaks (<c>--etcd-api</c>): gRPC by default, or the JSON gateway.</summary>
    public EtcdApi Api { get; init; } = EtcdApi.Grpc;

    /// <summary>How long a watch keeps reconnecting (through every endpoint) before it fails as transient.</summary>
    public TimeSpan WatchRetryTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Group commit (<see cref="TxnRequest.MayShareRevision"/>): at most this many grouped transactions are in flight to
    /// etcd at once; what arrives meanwhile waits and is sent together. One measured best on a CPU-bound cluster (the
    /// fewer, larger proposals, the less etcd spends per write; docs/benchmarks.md "HA: etcd").
    /// </summary>
    public int MaxTxnsInFlight { get; init; } = 1;

    /// <summary>
    /// A grouped transaction unanswered for this long no longer counts against <see cref="MaxTxnsInFlight"/>, so one
    /// request that etcd holds (a proposal lost with a killed leader waits out the request timeout) does not hold
    /// back the writes queued behind it. Far above a healthy cluster's answer time (milliseconds, tens under load).
    /// </summary>
    public TimeSpan StallAfter { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// A group's limit on compares, and on success operations, each counted on its own as etcd counts them: half of the
    /// <c>--max-txn-ops=1024</c> Holdfast requires (a cluster left at etcd's default of 128 refuses larger groups, and
    /// their members then run one by one).
    /// </summary>
    public int MaxGroupedOps { get; init; } = 512;

    /// <summary>A group's limit on key and value bytes (etcd refuses requests over 1.5 MiB by default).</summary>
    public long MaxGroupedBytes { get; init; } = 512 * 1024;

    /// <summary>
    /// Parses <c>etcd://host:port[,host:port…]</c> (the <c>--store</c> flag) into plain-HTTP endpoints. Throws
    /// <see cref="FormatException"/> with a message fit for an operator.
    /// </summary>
    public static EtcdStateStoreOptions Parse(string store) => Parse(store, null);

    /// <summary>
    /// Parses <c>etcd://…</c> (plain HTTP, <paramref name="tls"/> must be null) or <c>etcds://host:port[,host:port…]</c>
    /// (TLS, <paramref name="tls"/> required: <c>--etcd-ca-file</c> and usually a client certificate).
    /// </summary>
    public static EtcdStateStoreOptions Parse(string store, EtcdClientTls? tls, EtcdApi api = EtcdApi.Grpc)
    {
        ArgumentNullException.ThrowIfNull(store);
        bool secure = store.StartsWith("etcds://", StringComparison.OrdinalIgnoreCase);
        if (!secure && !store.StartsWith("etcd://", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"An etcd store is written etcd://host:port[,host:port…] (or etcds://… for TLS), not '{store}'.");
        }

        if (secure && tls is null)
        {
            throw new FormatException("etcds://… needs --etcd-ca-file (the CA that signed etcd's server certificates), and --etcd-cert-file/--etcd-key-file when etcd runs with --client-cert-auth.");
        }

        if (!secure && tls is not null)
        {
            throw new FormatException("--etcd-ca-file, --etcd-cert-file and --etcd-key-file apply only to an etcds://… store; etcd://… is plain HTTP.");
        }

        string scheme = secure ? "etcds://" : "etcd://";
        string http = secure ? "https" : "http";

        var endpoints = new List<Uri>();
        foreach (string member in store[scheme.Length..].TrimEnd('/').Split(','))
        {
            int colon = member.LastIndexOf(':');
            if (colon <= 0
                || !int.TryParse(member[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port)
                || port is < 1 or > 65535
                || Uri.CheckHostName(member[..colon].Trim('[', ']')) == UriHostNameType.Unknown
                || !Uri.TryCreate($"{http}://{member}/", UriKind.Absolute, out var endpoint))
            {
                throw new FormatException($"'{member}' in '{store}' is not host:port with a port from 1 to 65535.");
            }

            endpoints.Add(endpoint);
        }

        return new EtcdStateStoreOptions { Endpoints = endpoints, Tls = tls, Api = api };
    }
}

/// <summary>etcd's two client APIs: the native gRPC one, and the JSON gateway (grpc-gateway) under <c>/v3/</c>.</summary>
public enum EtcdApi
{
    /// <summary>gRPC over HTTP/2 (<c>Client/EtcdGrpcClient</c>): about 40 % less etcd CPU per request.</summary>
    Grpc,

    /// <summary>The JSON gateway over HTTP/1.1 (<c>Client/EtcdGatewayClient</c>), for sites that only expose it.</summary>
    Gateway,
}
