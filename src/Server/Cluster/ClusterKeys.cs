namespace Holdfast.Server.Cluster;

/// <summary>Store keys of the replica set: the leader record, replica registrations and relayed heartbeats.</summary>
internal static class ClusterKeys
{
    public const string Leader = "/cluster/leader";
    public const string ReplicasPrefix = "/cluster/replicas/";
    public const string HeartbeatsPrefix = "/cluster/heartbeats/";

    public static string Replica(string replicaId) => ReplicasPrefix + replicaId.ToLowerInvariant();

    public static string Heartbeats(string replicaId) => HeartbeatsPrefix + replicaId.ToLowerInvariant();

    /// <summary>The fence of one term: the leader key is still the one created at <paramref name="term"/>.</summary>
    public static State.Compare Fence(long term) => new(Leader, State.CompareTarget.CreateRevision, State.CompareOperator.Equal, term);
}
