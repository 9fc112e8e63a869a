namespace Holdfast.Capacity.Placement;

/// <summary>
/// The outcome of <see cref="PlacementIndex.Decide"/>. When placed: the chosen host, the version of its allocation
/// record the choice was made against, and <see cref="ProposedRecord"/> — that record with the allocation added — for
/// the caller to write with compare-and-swap on <see cref="ExpectedVersion"/>. When not placed:
/// <see cref="Explanation"/> says which filters rejected how many hosts.
/// </summary>
public sealed record PlacementDecision
{
    public required Allocation Allocation { get; init; }

    public string? HostName { get; init; }

    public long ExpectedVersion { get; init; }

    public HostAllocationRecord? ProposedRecord { get; init; }

    /// <summary>The winning host's score (lower is better); see <see cref="PlacementScoring"/>.</summary>
    public double Score { get; init; }

    public PlacementExplanation? Explanation { get; init; }

    public bool IsPlaced => HostName is not null;
}

/// <summary>How a commit against the index ended.</summary>
public enum CommitStatus
{
    Committed,

    /// <summary>The host's record changed since the decision: decide again.</summary>
    VersionConflict,

    /// <summary>The host is gone or no longer InService.</summary>
    HostUnavailable,

    /// <summary>The allocation does not fit (the host's capacity shrank) or its id is already placed.</summary>
    Rejected,
}

/// <summary>The result of a commit: its status and the host record's version after it (the current one on a conflict).</summary>
public readonly record struct CommitResult(CommitStatus Status, long Version);
