using Holdfast.State;

namespace Holdfast.Server.Cluster;

/// <summary>
/// This replica's view of the leader election (docs/designs/0007-replicas-and-leadership.md). The term is the create
/// revision of <c>/cluster/leader</c> when this replica won it; <see cref="Fence"/> holds exactly while that key is
/// the one this replica created, so a write guarded by it fails in the same transaction once leadership has moved.
/// </summary>
public interface ILeadership
{
    bool IsLeader { get; }

    /// <summary>The current term while leader; 0 otherwise.</summary>
    long Term { get; }

    string ReplicaId { get; }

    /// <summary><c>/cluster/leader</c>'s create revision equals <see cref="Term"/>.</summary>
    Compare Fence { get; }

    /// <summary>Cancelled when this replica's current leadership ends (already cancelled when not leader).</summary>
    CancellationToken LeaderToken { get; }

    /// <summary>Completes when this replica is leader.</summary>
    Task WaitForLeadershipAsync(CancellationToken cancellationToken);
}
