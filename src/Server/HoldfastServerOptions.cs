using System.Net;

namespace Holdfast.Server;

/// <summary>How one control-plane process is started. Built by the <c>holdfast serve</c> command from its flags.</summary>
public sealed record HoldfastServerOptions
{
    public const int DefaultPort = 8443;
    public const string DefaultAudience = "https://management.holdfast.local/";

    public required string DataDirectory { get; init; }

    public int Port { get; init; } = DefaultPort;

    public IPAddress ListenAddress { get; init; } = IPAddress.Loopback;

    /// <summary>The public root URL clients use; defaults to <c>https://localhost:{port}/</c>. Token issuers derive from it.</summary>
    public Uri? Endpoint { get; init; }

    public string Audience { get; init; } = DefaultAudience;

    /// <summary>The single location (region) this control plane serves.</summary>
    public string Location { get; init; } = "local";

    public string LocationDisplayName { get; init; } = "Local";

    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>ARM's request-body limit.</summary>
    public long MaxRequestBodyBytes { get; init; } = 4 * 1024 * 1024;

    public ThrottleOptions Throttle { get; init; } = new();

    public Audit.AuditOptions Audit { get; init; } = new();

    /// <summary>How often the drain controller moves VMs off Draining hosts.</summary>
    public TimeSpan DrainInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the usage sampler records each cluster's allocated and total capacity (forecast input).</summary>
    public TimeSpan UsageSampleInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The port host agents call (TLS, client certificates); 0 picks a free one (<c>holdfast serve</c>'s default is 8444).</summary>
    public int AgentPort { get; init; }

    /// <summary>How often agents sync.</summary>
    public int HeartbeatSeconds { get; init; } = 5;

    /// <summary>An InService or Draining host silent this long becomes Unreachable.</summary>
    public int UnreachableAfterSeconds { get; init; } = 15;

    /// <summary>A host silent this long becomes Failed and its VMs are re-placed; must exceed <see cref="SelfFenceSeconds"/>.</summary>
    public int FailedAfterSeconds { get; init; } = 60;

    /// <summary>An agent that has not synced this long stops its VMs by itself (Unreachable time plus one heartbeat).</summary>
    public int SelfFenceSeconds => UnreachableAfterSeconds + HeartbeatSeconds;

    /// <summary>How long the client certificates issued to agents (at join and renewal) are valid; agents renew after about two thirds.</summary>
    public TimeSpan AgentCertificateValidity { get; init; } = TimeSpan.FromDays(30);

    /// <summary>In-process simulated hosts the fleet simulator runs (0: none).</summary>
    public int SimulatedHosts { get; init; }

    /// <summary>
    /// Set for a replica of a cluster (an etcd store): the CA, token-signing keys, checkpoint keys and admin credential
    /// are shared through the store's <c>/cluster/secrets/</c>, sealed under this token. Null: they are files in the data directory.
    /// </summary>
    public Cluster.ClusterToken? ClusterToken { get; init; }

    /// <summary>This replica's name in the replica set (<c>/cluster/replicas/{id}</c>); default: machine name and API port.</summary>
    public string? ReplicaId { get; init; }

    /// <summary>TTL of the replica's store lease, which holds leadership: a dead leader is replaced after about this long.</summary>
    public int LeaderLeaseSeconds { get; init; } = 4;

    /// <summary>Which store backend the composition root opened (<c>sqlite</c> or <c>etcd</c>), for the cluster status.</summary>
    public string StoreKind { get; init; } = "sqlite";

    /// <summary>
    /// Caps the schema version of every stored document kind this replica reads and writes, so it behaves as an earlier
    /// release (hidden <c>serve --max-schema</c>: a test and rollback aid). Null: this release's versions.
    /// </summary>
    public int? MaxSchema { get; init; }

    public string ResolvedReplicaId => (ReplicaId ?? $"{Environment.MachineName}-{Port}").ToLowerInvariant();

    public Uri ResolvedEndpoint => Endpoint ?? new Uri($"https://localhost:{Port}/");
}

/// <summary>
/// ARM's token-bucket budgets per subscription and principal (learn.microsoft.com, "Understand how Azure Resource
/// Manager throttles requests"): a bucket of <c>Size</c> tokens refilled at <c>RefillPerSecond</c>. Zero disables.
/// </summary>
public sealed record ThrottleOptions
{
    public int ReadBucket { get; init; } = 250;

    public double ReadRefillPerSecond { get; init; } = 25;

    public int WriteBucket { get; init; } = 200;

    public double WriteRefillPerSecond { get; init; } = 10;

    public int DeleteBucket { get; init; } = 200;

    public double DeleteRefillPerSecond { get; init; } = 10;

    public bool Enabled { get; init; } = true;
}
