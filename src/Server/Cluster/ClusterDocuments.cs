using System.Text.Json.Serialization;

namespace Holdfast.Server.Cluster;

/// <summary>
/// <c>/cluster/leader</c>: who leads, where its API is, since when (the term is the key's create revision), and, once
/// every leader-only service of the term has started, when that was (the leader rewrites the record then).
/// </summary>
internal sealed record LeaderRecord(string Replica, string ApiEndpoint, DateTimeOffset ElectedAt, DateTimeOffset? SingletonsStartedAt = null);

/// <summary><c>/cluster/replicas/{id}</c>, on the replica's lease: a live replica.</summary>
internal sealed record ReplicaRecord(string Replica, string ApiEndpoint, string? AgentEndpoint, string Version, DateTimeOffset StartedAt);

/// <summary><c>/cluster/heartbeats/{id}</c>, on the replica's lease: hosts whose agents synced with that replica since its last write.</summary>
internal sealed record HeartbeatBatch(string[] Hosts);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LeaderRecord))]
[JsonSerializable(typeof(ReplicaRecord))]
[JsonSerializable(typeof(HeartbeatBatch))]
internal sealed partial class ClusterJson : JsonSerializerContext;
