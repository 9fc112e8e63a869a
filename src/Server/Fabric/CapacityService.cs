using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;
using Holdfast.Capacity.Planning;
using Holdfast.Fabric;
using Holdfast.State;

namespace Holdfast.Server.Fabric;

/// <summary>How a caller commits a transaction: <c>ArmData.CommitAsync</c> inside a request (so the activity-log record rides along), the store directly in background loops.</summary>
internal delegate ValueTask<TxnResult> CommitFn(TxnRequest request);

/// <summary>The result of a placement or move: where it landed, or why it could not.</summary>
internal sealed record PlaceResult(bool Placed, string? Host, long Revision, PlacementExplanation? Explanation, bool CallerCompareFailed = false)
{
    public static PlaceResult CompareFailed { get; } = new(false, null, 0, null, CallerCompareFailed: true);
}

/// <summary>The result of holding capacity for a reservation: how many instances' worth were held, and on which hosts.</summary>
internal sealed record HoldResult(int Held, IReadOnlyDictionary<string, int> PerHost, PlacementExplanation? Shortfall, long Revision);

/// <summary>
/// The server's placement service (docs/designs/0004-fleet-and-agents.md): one <see cref="PlacementIndex"/> rebuilt from
/// the store at start (<c>/fabric/hosts/</c>, <c>/fabric/allocations/</c>) and kept current by watch. Writes decide
/// under a lock, then commit the proposed host record with compare-and-swap on its mod revision together with the
/// instance document and the caller's own compares and ops, in one transaction; a conflict re-reads the host's record
/// and decides again. The store is the authority; the index may lag, never lie.
/// </summary>
internal sealed partial class CapacityService
{
    /// <summary>Completes when the index holds everything up to the revision it started from.</summary>
    public Task WaitLoadedAsync(CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>Completes when the index has applied every fabric change up to <paramref name="revision"/>.</summary>
    public Task WaitForRevisionAsync(long revision, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>A consistent copy of every host and its record.</summary>
    public IReadOnlyList<HostSnapshot> Hosts() => throw new NotImplementedException();

    public HostSnapshot? FindHost(string hostName) => throw new NotImplementedException();

    /// <summary>The host an instance is placed on, per the index.</summary>
    public string? HostOf(string instanceId) => throw new NotImplementedException();

    public PlacementExplanation Explain(PlacementRequest request) => throw new NotImplementedException();

    public WhatIfResult WhatIf(PlacementRequest template, int count) => throw new NotImplementedException();

    public IReadOnlyList<ClusterUtilization> Utilization(CapacityVector smallestVm) => throw new NotImplementedException();

    /// <summary>
    /// Places a new instance: on success one transaction wrote the host's record (CAS), the instance document (with
    /// <see cref="InstanceDocument.Host"/> set and <see cref="InstanceDocument.Epoch"/> + 1) and <paramref name="ops"/>,
    /// all guarded by <paramref name="compares"/> (when one of those fails: <see cref="PlaceResult.CompareFailed"/>).
    /// Not placed: nothing written; the explanation says why.
    /// </summary>
    public Task<PlaceResult> PlaceAsync(InstanceDocument instance, IReadOnlyList<Compare> compares, IReadOnlyList<TxnOp> ops, CommitFn commit, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>
    /// Removes an instance: its allocation leaves its host's record (CAS) and the instance document is deleted, with
    /// <paramref name="ops"/>, in one transaction. False when the instance does not exist.
    /// </summary>
    public Task<bool> FreeAsync(string instanceId, IReadOnlyList<Compare> compares, IReadOnlyList<TxnOp> ops, CommitFn commit, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>
    /// Re-places an existing instance on another host (healing, drain, redeploy): one transaction removes it from its
    /// current host's record, adds it to the new one's and bumps its epoch. When nothing fits and
    /// <paramref name="unplaceIfNoRoom"/> is set (its host failed), the instance leaves its host anyway and waits with
    /// <see cref="InstanceDocument.Host"/> null and the reason in <see cref="InstanceDocument.Error"/>; otherwise it
    /// stays where it is. An instance waiting for room is placed by the same call.
    /// </summary>
    public Task<PlaceResult> MoveAsync(string instanceId, bool unplaceIfNoRoom, CommitFn commit, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>
    /// Holds capacity for <paramref name="count"/> instances of <paramref name="unit"/> for a capacity reservation, spread
    /// over hosts (one CAS per host, each its own transaction through <paramref name="commit"/>). Holds what fits.
    /// </summary>
    public Task<HoldResult> HoldAsync(string reservationId, CapacityVector unit, int count, string? cluster, CommitFn commit, CancellationToken cancellationToken) => throw new NotImplementedException();

    /// <summary>Releases every hold of a reservation (allocations that used it stay).</summary>
    public Task ReleaseAsync(string reservationId, CommitFn commit, CancellationToken cancellationToken) => throw new NotImplementedException();
}
