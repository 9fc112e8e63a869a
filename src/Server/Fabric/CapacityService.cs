using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;
using Holdfast.Capacity.Planning;
using Holdfast.Fabric;
using Holdfast.Server.Arm;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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
/// and decides again. The store is the authority; the index may lag, never lie: a successful swap proves the record it
/// replaced was exactly the one the decision saw, so no host is ever oversubscribed however stale the rest of the view.
/// </summary>
internal sealed partial class CapacityService(IStateStore store, ILogger<CapacityService> logger) : BackgroundService
{
    /// <summary>Decisions retried after compare-and-swap conflicts before giving up.</summary>
    public const int MaxAttempts = 16;

    private readonly Lock _lock = new();
    private readonly PlacementIndex _index = new();
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly RevisionGate _applied = new();

    /// <summary>
    /// Each host document's mod revision as the index holds it (a deleted host keeps its deleting revision), so a
    /// placement compares the target's document too: a state change (maintenance, drain, decommission) committed
    /// between decide and commit fails the compare and the request is decided again. Guarded by <see cref="_lock"/>.
    /// </summary>
    private readonly Dictionary<string, long> _hostRevisions = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Completes when the index holds everything up to the revision it started from.</summary>
    public Task WaitLoadedAsync(CancellationToken cancellationToken) => _loaded.Task.WaitAsync(cancellationToken);

    /// <summary>Completes when the index has applied every fabric change up to <paramref name="revision"/>.</summary>
    public Task WaitForRevisionAsync(long revision, CancellationToken cancellationToken) => _applied.WaitForAsync(revision, cancellationToken);

    /// <summary>A consistent copy of every host and its record.</summary>
    public IReadOnlyList<HostSnapshot> Hosts()
    {
        lock (_lock)
        {
            return [.. _index.Hosts];
        }
    }

    public HostSnapshot? FindHost(string hostName)
    {
        lock (_lock)
        {
            return _index.FindHost(hostName);
        }
    }

    /// <summary>The host an instance is placed on, per the index.</summary>
    public string? HostOf(string instanceId)
    {
        lock (_lock)
        {
            return _index.HostOf(instanceId);
        }
    }

    public PlacementExplanation Explain(PlacementRequest request)
    {
        lock (_lock)
        {
            return _index.Explain(request);
        }
    }

    public WhatIfResult WhatIf(PlacementRequest template, int count)
    {
        PlacementIndex copy;
        lock (_lock)
        {
            copy = _index.Clone();
        }

        return CapacityPlanner.WhatIf(copy, template, count);
    }

    public IReadOnlyList<ClusterUtilization> Utilization(CapacityVector smallestVm) => CapacityPlanner.Utilization(Hosts(), smallestVm);

    /// <summary>
    /// Places a new instance: on success one transaction wrote the host's record (CAS), the instance document (with
    /// <see cref="InstanceDocument.Host"/> set and <see cref="InstanceDocument.Epoch"/> + 1) and <paramref name="ops"/>,
    /// all guarded by <paramref name="compares"/> (when one of those fails: <see cref="PlaceResult.CompareFailed"/>).
    /// Not placed: nothing written; the explanation says why. An instance that already exists is not placed again: the
    /// answer is where it is (a retried provisioning step finds its earlier placement).
    /// </summary>
    public async Task<PlaceResult> PlaceAsync(InstanceDocument instance, IReadOnlyList<Compare> compares, IReadOnlyList<TxnOp> ops, CommitFn commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(commit);
        await WaitLoadedAsync(cancellationToken).ConfigureAwait(false);
        var instanceKey = FabricKeys.Instance(instance.Id);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var existing = await store.GetAsync(instanceKey, cancellationToken).ConfigureAwait(false);
            if (existing is not null)
            {
                var stored = FabricJson.Deserialize<InstanceDocument>(existing.Value.Span);
                return new PlaceResult(stored.Host is not null, stored.Host, existing.ModRevision, null);
            }

            PlacementDecision decision;
            long hostRevision;
            lock (_lock)
            {
                decision = _index.HostOf(instance.Id) is null ? _index.Decide(instance.ToRequest()) : _index.DecideMove(instance.ToRequest());
                hostRevision = decision.IsPlaced ? _hostRevisions.GetValueOrDefault(decision.HostName!) : 0;
            }

            if (!decision.IsPlaced)
            {
                return new PlaceResult(false, null, 0, decision.Explanation);
            }

            if (await IsStaleAsync(decision, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            var placed = instance with { Host = decision.HostName, Epoch = instance.Epoch + 1, Error = null };
            var allocationKey = FabricKeys.Allocations(decision.HostName!);
            var hostKey = FabricKeys.Host(decision.HostName!);
            var request = new TxnRequest(
                [RecordIs(allocationKey, decision.ExpectedVersion), Compare.Absent(instanceKey), RecordIs(hostKey, hostRevision), .. compares],
                [TxnOp.Put(allocationKey, AllocationRecordCodec.Encode(decision.ProposedRecord!)), TxnOp.Put(instanceKey, FabricJson.Serialize(placed)), .. ops],
                [TxnOp.Get(allocationKey), TxnOp.Get(instanceKey), TxnOp.Get(hostKey)]);
            var result = await commit(request).ConfigureAwait(false);
            if (result.Succeeded)
            {
                Apply(decision.ProposedRecord!.AtVersion(result.Revision));
                return new PlaceResult(true, decision.HostName, result.Revision, null);
            }

            var recordMoved = Refresh(result.Results[0], allocationKey, decision.ExpectedVersion);
            var hostChanged = RefreshHost(result.Results[2], hostKey, hostRevision, result.Revision);
            if (!recordMoved && !hostChanged && result.Results[1].Kvs.Count == 0)
            {
                return PlaceResult.CompareFailed;
            }

            LogConflict(logger, instance.Id, decision.HostName!, attempt + 1);
        }

        throw new StateStoreException($"Placing instance '{instance.Id}' kept conflicting with concurrent placements; retry.");
    }

    /// <summary>
    /// Removes an instance: its allocation leaves its host's record (CAS) and the instance document is deleted, with
    /// <paramref name="ops"/>, in one transaction. False when the instance does not exist (nothing written).
    /// </summary>
    public async Task<bool> FreeAsync(string instanceId, IReadOnlyList<Compare> compares, IReadOnlyList<TxnOp> ops, CommitFn commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        var instanceKey = FabricKeys.Instance(instanceId);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var existing = await store.GetAsync(instanceKey, cancellationToken).ConfigureAwait(false);
            if (existing is null)
            {
                return false;
            }

            var instance = FabricJson.Deserialize<InstanceDocument>(existing.Value.Span);
            var (recordCompare, recordOps, freed) = await WithoutAsync(instance, cancellationToken).ConfigureAwait(false);
            var request = new TxnRequest(
                [Compare.ModRevisionIs(instanceKey, existing.ModRevision), .. recordCompare, .. compares],
                [.. recordOps, TxnOp.Delete(instanceKey), .. ops],
                []);
            var result = await commit(request).ConfigureAwait(false);
            if (result.Succeeded)
            {
                if (freed is not null)
                {
                    Apply(freed.AtVersion(result.Revision));
                }

                return true;
            }

            if (!await StillCurrentAsync(instanceKey, existing.ModRevision, recordCompare, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            throw new StateStoreException($"Freeing instance '{instanceId}' failed a caller's precondition.");
        }

        throw new StateStoreException($"Freeing instance '{instanceId}' kept conflicting with concurrent changes; retry.");
    }

    /// <summary>
    /// Re-places an existing instance on another host (healing, drain, redeploy): one transaction removes it from its
    /// current host's record, adds it to the new one's and bumps its epoch. When nothing fits and
    /// <paramref name="unplaceIfNoRoom"/> is set (its host failed), the instance leaves its host anyway and waits with
    /// <see cref="InstanceDocument.Host"/> null and the reason in <see cref="InstanceDocument.Error"/>; otherwise it
    /// stays where it is. An instance waiting for room is placed by the same call.
    /// </summary>
    public async Task<PlaceResult> MoveAsync(string instanceId, bool unplaceIfNoRoom, CommitFn commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        await WaitLoadedAsync(cancellationToken).ConfigureAwait(false);
        var instanceKey = FabricKeys.Instance(instanceId);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var existing = await store.GetAsync(instanceKey, cancellationToken).ConfigureAwait(false)
                ?? throw new KeyNotFoundException($"Instance '{instanceId}' does not exist.");
            var instance = FabricJson.Deserialize<InstanceDocument>(existing.Value.Span);
            var (fromCompare, fromOps, freed) = await WithoutAsync(instance, cancellationToken).ConfigureAwait(false);
            PlacementDecision decision;
            long hostRevision;
            lock (_lock)
            {
                decision = _index.DecideMove(instance.ToRequest());
                hostRevision = decision.IsPlaced ? _hostRevisions.GetValueOrDefault(decision.HostName!) : 0;
            }

            if (await IsStaleAsync(decision, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            InstanceDocument next;
            List<Compare> compares = [Compare.ModRevisionIs(instanceKey, existing.ModRevision), .. fromCompare];
            List<TxnOp> ops = [.. fromOps];
            string? toKey = null;
            string? toHostKey = null;
            if (decision.IsPlaced)
            {
                toKey = FabricKeys.Allocations(decision.HostName!);
                toHostKey = FabricKeys.Host(decision.HostName!);
                compares.Add(RecordIs(toKey, decision.ExpectedVersion));
                compares.Add(RecordIs(toHostKey, hostRevision));
                ops.Add(TxnOp.Put(toKey, AllocationRecordCodec.Encode(decision.ProposedRecord!)));
                next = instance with { Host = decision.HostName, Epoch = instance.Epoch + 1, Error = null };
            }
            else if (unplaceIfNoRoom || instance.Host is null)
            {
                var reason = $"Waiting for capacity: {decision.Explanation!.Summary}";
                if (instance.Host is null && instance.Error == reason)
                {
                    return new PlaceResult(false, null, existing.ModRevision, decision.Explanation);
                }

                next = instance with { Host = null, Error = reason };
            }
            else
            {
                return new PlaceResult(false, instance.Host, existing.ModRevision, decision.Explanation);
            }

            ops.Add(TxnOp.Put(instanceKey, FabricJson.Serialize(next)));
            var result = await commit(new TxnRequest(compares, ops, toKey is null ? [] : [TxnOp.Get(toKey), TxnOp.Get(toHostKey!)])).ConfigureAwait(false);
            if (result.Succeeded)
            {
                if (freed is not null)
                {
                    Apply(freed.AtVersion(result.Revision));
                }

                if (decision.IsPlaced)
                {
                    Apply(decision.ProposedRecord!.AtVersion(result.Revision));
                }

                return new PlaceResult(decision.IsPlaced, next.Host, result.Revision, decision.Explanation);
            }

            if (toKey is not null)
            {
                Refresh(result.Results[0], toKey, decision.ExpectedVersion);
                RefreshHost(result.Results[1], toHostKey!, hostRevision, result.Revision);
            }

            LogConflict(logger, instanceId, decision.HostName ?? "(none)", attempt + 1);
        }

        throw new StateStoreException($"Moving instance '{instanceId}' kept conflicting with concurrent changes; retry.");
    }

    /// <summary>
    /// Resizes an existing instance to <paramref name="demand"/>: on its own host when that host (without the instance)
    /// has room, else on another host that fits; one transaction rewrites the record(s) and the instance with its epoch
    /// bumped, so its host re-creates it at the new size (a restart, as Azure's resize). Nothing fits: nothing is
    /// written and the answer is not placed, with the explanation. An instance waiting for room just takes the new size.
    /// </summary>
    public async Task<PlaceResult> ResizeAsync(string instanceId, CapacityVector demand, string size, CommitFn commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        await WaitLoadedAsync(cancellationToken).ConfigureAwait(false);
        var instanceKey = FabricKeys.Instance(instanceId);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var existing = await store.GetAsync(instanceKey, cancellationToken).ConfigureAwait(false)
                ?? throw new KeyNotFoundException($"Instance '{instanceId}' does not exist.");
            var instance = FabricJson.Deserialize<InstanceDocument>(existing.Value.Span);
            var resized = instance with { Demand = demand, Size = size };
            if (instance.Host is null)
            {
                var waiting = await commit(new TxnRequest([Compare.ModRevisionIs(instanceKey, existing.ModRevision)], [TxnOp.Put(instanceKey, FabricJson.Serialize(resized))], [])).ConfigureAwait(false);
                if (waiting.Succeeded)
                {
                    return new PlaceResult(false, null, waiting.Revision, null);
                }

                continue;
            }

            HostAllocationRecord? current = null;
            HostAllocationRecord? inPlace = null;
            long hostRevision = 0;
            lock (_lock)
            {
                if (_index.FindHost(instance.Host) is { } host && host.Description.State == HostState.InService
                    && host.Allocations.Allocations.FirstOrDefault(a => string.Equals(a.Id, instanceId, StringComparison.Ordinal)) is { } allocation)
                {
                    current = host.Allocations;
                    inPlace = current.WithoutAllocation(instanceId).WithAllocation(allocation with { Demand = demand }, host.Description.Capacity);
                    hostRevision = _hostRevisions.GetValueOrDefault(instance.Host);
                }
            }

            if (inPlace is not null)
            {
                var key = FabricKeys.Allocations(instance.Host);
                var hostKey = FabricKeys.Host(instance.Host);
                var result = await commit(new TxnRequest(
                    [Compare.ModRevisionIs(instanceKey, existing.ModRevision), RecordIs(key, current!.Version), RecordIs(hostKey, hostRevision)],
                    [TxnOp.Put(key, AllocationRecordCodec.Encode(inPlace)), TxnOp.Put(instanceKey, FabricJson.Serialize(resized with { Epoch = instance.Epoch + 1, Error = null }))],
                    [TxnOp.Get(key), TxnOp.Get(hostKey)])).ConfigureAwait(false);
                if (result.Succeeded)
                {
                    Apply(inPlace.AtVersion(result.Revision));
                    return new PlaceResult(true, instance.Host, result.Revision, null);
                }

                Refresh(result.Results[0], key, current.Version);
                RefreshHost(result.Results[1], hostKey, hostRevision, result.Revision);
                LogConflict(logger, instanceId, instance.Host, attempt + 1);
                continue;
            }

            var (fromCompare, fromOps, freed) = await WithoutAsync(instance, cancellationToken).ConfigureAwait(false);
            PlacementDecision decision;
            lock (_lock)
            {
                decision = _index.DecideMove(resized.ToRequest());
                hostRevision = decision.IsPlaced ? _hostRevisions.GetValueOrDefault(decision.HostName!) : 0;
            }

            if (!decision.IsPlaced)
            {
                return new PlaceResult(false, instance.Host, existing.ModRevision, decision.Explanation);
            }

            if (await IsStaleAsync(decision, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            var toKey = FabricKeys.Allocations(decision.HostName!);
            var toHostKey = FabricKeys.Host(decision.HostName!);
            var moved = await commit(new TxnRequest(
                [Compare.ModRevisionIs(instanceKey, existing.ModRevision), .. fromCompare, RecordIs(toKey, decision.ExpectedVersion), RecordIs(toHostKey, hostRevision)],
                [.. fromOps, TxnOp.Put(toKey, AllocationRecordCodec.Encode(decision.ProposedRecord!)), TxnOp.Put(instanceKey, FabricJson.Serialize(resized with { Host = decision.HostName, Epoch = instance.Epoch + 1, Error = null }))],
                [TxnOp.Get(toKey), TxnOp.Get(toHostKey)])).ConfigureAwait(false);
            if (moved.Succeeded)
            {
                if (freed is not null)
                {
                    Apply(freed.AtVersion(moved.Revision));
                }

                Apply(decision.ProposedRecord!.AtVersion(moved.Revision));
                return new PlaceResult(true, decision.HostName, moved.Revision, null);
            }

            Refresh(moved.Results[0], toKey, decision.ExpectedVersion);
            RefreshHost(moved.Results[1], toHostKey, hostRevision, moved.Revision);
            LogConflict(logger, instanceId, decision.HostName!, attempt + 1);
        }

        throw new StateStoreException($"Resizing instance '{instanceId}' kept conflicting with concurrent changes; retry.");
    }

    /// <summary>
    /// Holds capacity for <paramref name="count"/> instances of <paramref name="unit"/> for a capacity reservation, on
    /// the InService hosts with the most room first (one CAS per host, each its own transaction through
    /// <paramref name="commit"/>). Holds what fits; the shortfall says why the rest did not.
    /// </summary>
    public async Task<HoldResult> HoldAsync(string reservationId, CapacityVector unit, int count, string? cluster, CommitFn commit, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reservationId);
        ArgumentNullException.ThrowIfNull(commit);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        await WaitLoadedAsync(cancellationToken).ConfigureAwait(false);
        var perHost = new SortedDictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var held = 0;
        long revision = 0;
        var conflicts = 0;
        while (held < count && conflicts < MaxAttempts)
        {
            (HostSnapshot Host, int Units)? pick = null;
            lock (_lock)
            {
                foreach (var host in _index.Hosts)
                {
                    if (host.Description.State != HostState.InService || (cluster is not null && !string.Equals(host.Description.Cluster, cluster, StringComparison.OrdinalIgnoreCase)))
                    {
                        continue;
                    }

                    var units = UnitsFitting(host.Allocations.FreeFor(host.Description.Capacity, null), unit);
                    if (units > 0 && (pick is null || units > pick.Value.Units))
                    {
                        pick = (host, units);
                    }
                }
            }

            if (pick is not { } chosen)
            {
                break;
            }

            var take = Math.Min(chosen.Units, count - held);
            var record = chosen.Host.Allocations;
            var proposed = record.WithReservation(new ReservationHold(reservationId, Times(unit, take)), chosen.Host.Description.Capacity);
            if (proposed is null)
            {
                break;
            }

            var key = FabricKeys.Allocations(record.HostName);
            var result = await commit(new TxnRequest([RecordIs(key, record.Version)], [TxnOp.Put(key, AllocationRecordCodec.Encode(proposed))], [TxnOp.Get(key)])).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                Refresh(result.Results[0], key, record.Version);
                conflicts++;
                continue;
            }

            Apply(proposed.AtVersion(result.Revision));
            revision = result.Revision;
            held += take;
            perHost[record.HostName] = perHost.GetValueOrDefault(record.HostName) + take;
        }

        PlacementExplanation? shortfall = null;
        if (held < count)
        {
            lock (_lock)
            {
                shortfall = _index.Explain(new PlacementRequest("hold:" + reservationId, unit) { Cluster = cluster });
            }
        }

        return new HoldResult(held, perHost, shortfall, revision);
    }

    /// <summary>Releases every hold of a reservation (allocations that used it stay).</summary>
    public async Task ReleaseAsync(string reservationId, CommitFn commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        await WaitLoadedAsync(cancellationToken).ConfigureAwait(false);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            List<HostAllocationRecord> holding;
            lock (_lock)
            {
                holding = [.. _index.Hosts.Select(h => h.Allocations).Where(r => r.Reservations.Any(h => string.Equals(h.ReservationId, reservationId, StringComparison.OrdinalIgnoreCase)))];
            }

            if (holding.Count == 0)
            {
                return;
            }

            foreach (var record in holding)
            {
                var key = FabricKeys.Allocations(record.HostName);
                var released = record.WithoutReservation(reservationId);
                var result = await commit(new TxnRequest([RecordIs(key, record.Version)], [TxnOp.Put(key, AllocationRecordCodec.Encode(released))], [TxnOp.Get(key)])).ConfigureAwait(false);
                if (result.Succeeded)
                {
                    Apply(released.AtVersion(result.Revision));
                }
                else
                {
                    Refresh(result.Results[0], key, record.Version);
                }
            }
        }

        throw new StateStoreException($"Releasing reservation '{reservationId}' kept conflicting with concurrent changes; retry.");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var revision = await LoadAsync(stoppingToken).ConfigureAwait(false);
                _applied.Advance(revision);
                _loaded.TrySetResult();
                await foreach (var changes in store.WatchAsync(FabricKeys.Prefix, revision, stoppingToken).ByRevisionAsync(stoppingToken).ConfigureAwait(false))
                {
                    lock (_lock)
                    {
                        foreach (var change in changes)
                        {
                            ApplyChange(change.Kv, change.Type == WatchEventType.Delete);
                        }
                    }

                    _applied.Advance(changes[^1].Revision);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (StateStoreException ex)
            {
                LogResync(logger, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(100), stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Lists hosts and records (a host first, so its record attaches to it) and feeds the index; the lowest page revision.</summary>
    private async Task<long> LoadAsync(CancellationToken cancellationToken)
    {
        long revision = 0;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var prefix in new[] { FabricKeys.HostsPrefix, FabricKeys.AllocationsPrefix })
        {
            string? after = null;
            do
            {
                var page = await store.RangeAsync(new RangeRequest(prefix, 1000, after), cancellationToken).ConfigureAwait(false);
                revision = revision == 0 ? page.Revision : Math.Min(revision, page.Revision);
                lock (_lock)
                {
                    foreach (var kv in page.Items)
                    {
                        ApplyChange(kv, deleted: false);
                        if (prefix == FabricKeys.HostsPrefix)
                        {
                            seen.Add(FabricKeys.NameOf(kv.Key));
                        }
                    }
                }

                after = page.ContinueAfter;
            }
            while (after is not null);
        }

        lock (_lock)
        {
            foreach (var stale in _index.Hosts.Select(h => h.Description.Name).Where(n => !seen.Contains(n)).ToList())
            {
                _index.RemoveHost(stale);
                _hostRevisions[stale] = revision;
            }
        }

        return revision;
    }

    /// <summary>Applies one stored host document or allocation record to the index (caller holds the lock).</summary>
    private void ApplyChange(KeyValue kv, bool deleted)
    {
        try
        {
            ApplyDocument(kv, deleted);
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or ArgumentException)
        {
            // A document this version cannot read must not stop the index: the host is left out of placement.
            LogUnreadable(logger, kv.Key, ex.Message);
        }
    }

    private void ApplyDocument(KeyValue kv, bool deleted)
    {
        if (kv.Key.StartsWith(FabricKeys.HostsPrefix, StringComparison.Ordinal))
        {
            var name = FabricKeys.NameOf(kv.Key);
            if (_hostRevisions.TryGetValue(name, out var held) && kv.ModRevision < held)
            {
                return; // a refresh after a failed compare already applied a newer state
            }

            if (deleted)
            {
                _index.RemoveHost(name);
            }
            else
            {
                _index.UpsertHost(FabricJson.Deserialize<HostDocument>(kv.Value.Span).ToDescription());
            }

            _hostRevisions[name] = kv.ModRevision;
        }
        else if (kv.Key.StartsWith(FabricKeys.AllocationsPrefix, StringComparison.Ordinal))
        {
            var record = deleted
                ? new HostAllocationRecord(FabricKeys.NameOf(kv.Key), kv.ModRevision, [], [])
                : AllocationRecordCodec.Decode(kv.Value.Span, kv.ModRevision);
            _index.ApplyRecord(record);
        }
    }

    private void Apply(HostAllocationRecord record)
    {
        lock (_lock)
        {
            _index.ApplyRecord(record);
        }
    }

    /// <summary>
    /// After a failed transaction: feeds the host record the failure branch read into the index. True when it had
    /// moved on from <paramref name="expectedVersion"/> (a placement conflict: decide again).
    /// </summary>
    private bool Refresh(TxnOpResult read, string allocationKey, long expectedVersion)
    {
        var kv = read.Kvs.Count > 0 ? read.Kvs[0] : null;
        var current = kv?.ModRevision ?? 0;
        if (kv is not null)
        {
            Apply(AllocationRecordCodec.Decode(kv.Value.Span, kv.ModRevision));
        }

        return current != expectedVersion;
    }

    /// <summary>
    /// After a failed transaction: feeds the host document the failure branch read (at <paramref name="readRevision"/>)
    /// into the index. True when it had moved on from <paramref name="expectedRevision"/> (decide again).
    /// </summary>
    private bool RefreshHost(TxnOpResult read, string hostKey, long expectedRevision, long readRevision)
    {
        var kv = read.Kvs.Count > 0 ? read.Kvs[0] : null;
        if ((kv?.ModRevision ?? 0) == expectedRevision)
        {
            return false;
        }

        lock (_lock)
        {
            ApplyChange(kv ?? new KeyValue(hostKey, ReadOnlyMemory<byte>.Empty, 0, readRevision, 0, 0), deleted: kv is null);
        }

        return true;
    }

    /// <summary>The compares and ops that take <paramref name="instance"/> off its host's record, read from the store.</summary>
    private async Task<(Compare[] Compares, TxnOp[] Ops, HostAllocationRecord? Freed)> WithoutAsync(InstanceDocument instance, CancellationToken cancellationToken)
    {
        if (instance.Host is null)
        {
            return ([], [], null);
        }

        var key = FabricKeys.Allocations(instance.Host);
        var kv = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        if (kv is null)
        {
            return ([Compare.Absent(key)], [], null);
        }

        var record = AllocationRecordCodec.Decode(kv.Value.Span, kv.ModRevision);
        if (!record.Contains(instance.Id))
        {
            return ([Compare.ModRevisionIs(key, kv.ModRevision)], [], null);
        }

        var freed = record.WithoutAllocation(instance.Id);
        return ([Compare.ModRevisionIs(key, kv.ModRevision)], [TxnOp.Put(key, AllocationRecordCodec.Encode(freed))], freed);
    }

    /// <summary>True when the instance and the record compares still hold (so the caller's own compare failed).</summary>
    private async Task<bool> StillCurrentAsync(string instanceKey, long instanceRevision, Compare[] recordCompares, CancellationToken cancellationToken)
    {
        if ((await store.GetAsync(instanceKey, cancellationToken).ConfigureAwait(false))?.ModRevision != instanceRevision)
        {
            return false;
        }

        foreach (var compare in recordCompares)
        {
            var kv = await store.GetAsync(compare.Key, cancellationToken).ConfigureAwait(false);
            var matches = compare.Target == CompareTarget.CreateRevision ? kv is null : kv?.ModRevision == compare.Number;
            if (!matches)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// True when the chosen host's record, as the index holds it, already names the instance (another replica placed it
    /// and this index has not seen its document yet): the record is re-read from the store and the caller decides again.
    /// </summary>
    private async Task<bool> IsStaleAsync(PlacementDecision decision, CancellationToken cancellationToken)
    {
        if (!decision.IsPlaced || decision.ProposedRecord is not null)
        {
            return false;
        }

        var kv = await store.GetAsync(FabricKeys.Allocations(decision.HostName!), cancellationToken).ConfigureAwait(false);
        if (kv is not null)
        {
            Apply(AllocationRecordCodec.Decode(kv.Value.Span, kv.ModRevision));
        }

        return true;
    }

    private static Compare RecordIs(string key, long version) => version == 0 ? Compare.Absent(key) : Compare.ModRevisionIs(key, version);

    private static int UnitsFitting(CapacityVector free, CapacityVector unit)
    {
        var units = int.MaxValue;
        for (var d = 0; d < CapacityVector.Dimensions; d++)
        {
            if (unit[d] > 0)
            {
                units = Math.Min(units, free[d] / unit[d]);
            }
        }

        return units == int.MaxValue ? 0 : Math.Max(units, 0);
    }

    private static CapacityVector Times(CapacityVector unit, int count) =>
        new(unit.VCpus * count, unit.MemoryMiB * count, unit.DiskGiB * count, unit.Gpus * count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Placement of {InstanceId} on {Host} conflicted (attempt {Attempt}); deciding again")]
    private static partial void LogConflict(ILogger logger, string instanceId, string host, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Placement index skipped {Key}, which it cannot read: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string key, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Placement index re-listing: {Reason}")]
    private static partial void LogResync(ILogger logger, string reason);
}
