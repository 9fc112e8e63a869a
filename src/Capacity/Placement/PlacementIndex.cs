using Holdfast.Capacity.Inventory;

namespace Holdfast.Capacity.Placement;

/// <summary>
/// The in-memory index placement decides on: every host, its versioned allocation record and its free capacity,
/// fed incrementally (<see cref="UpsertHost"/>, <see cref="RemoveHost"/>, <see cref="ApplyRecord"/> — what a store
/// watch delivers) and rebuildable from a snapshot (feed every host and record). Not thread-safe: one owner feeds and
/// queries it (the server serializes calls); concurrency between placers is handled by compare-and-swap on the
/// per-host records, never by sharing this object.
/// </summary>
/// <remarks>
/// <para>
/// A decision runs the filters (<see cref="PlacementFilter"/>) and scorers (<see cref="PlacementScoring"/>) without
/// scanning the fleet: InService hosts sit in per-cluster buckets keyed by free vCPUs, and the search walks buckets from
/// the request's vCPUs upward — smallest sufficient hosts first, which is where best fit lives — and stops after
/// <see cref="CandidateSample"/> hosts pass every filter, keeping the best-scored (candidate sampling as in Protean and
/// Nomad). With an availability set or anti-affinity group it keeps walking until the best candidate's spread or
/// affinity cost is the least the fleet allows. Only a request that fits nowhere scans everything, to explain why.
/// </para>
/// <para>
/// Commit protocol: <see cref="Decide"/> returns the host, the version of its record the decision was made against
/// and the proposed new record. The server writes that record to the store only if the stored version still matches
/// (compare-and-swap) and feeds the result back through <see cref="ApplyRecord"/>; on a conflict it decides again. In
/// process, <see cref="TryCommit"/> performs the same check against the index's own records.
/// </para>
/// </remarks>
public sealed class PlacementIndex
{
    /// <summary>Feasible candidates scored per decision before the search may stop.</summary>
    public const int DefaultCandidateSample = 16;

    private readonly Dictionary<string, HostSlot> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, HostSlot> _allocations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HostAllocationRecord> _pendingRecords = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<ClusterBuckets> _clusters = [];
    private readonly Dictionary<string, int> _clusterOrdinals = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, int> _traitBits = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, SetCounts> _availabilitySets = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, HashSet<HostSlot>> _reservationHosts = new(StringComparer.OrdinalIgnoreCase);

    public PlacementIndex(int candidateSample = DefaultCandidateSample)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(candidateSample, 1);
        CandidateSample = candidateSample;
    }

    public int CandidateSample { get; }

    public int HostCount => _hosts.Count;

    public int AllocationCount => _allocations.Count;

    /// <summary>Every host with its current allocation record, in no particular order.</summary>
    public IEnumerable<HostSnapshot> Hosts => _hosts.Values.Select(s => new HostSnapshot(s.Description, s.Record));

    /// <summary>The host and record for <paramref name="hostName"/>, if known.</summary>
    public HostSnapshot? FindHost(string hostName) =>
        _hosts.TryGetValue(hostName, out var slot) ? new HostSnapshot(slot.Description, slot.Record) : null;

    /// <summary>The host allocation <paramref name="allocationId"/> is on, if it is placed.</summary>
    public string? HostOf(string allocationId) =>
        _allocations.TryGetValue(allocationId, out var slot) ? slot.Description.Name : null;

    /// <summary>Adds a host or replaces its description (state, capacity, traits, position); its record is kept.</summary>
    public void UpsertHost(HostDescription host)
    {
        ArgumentNullException.ThrowIfNull(host);
        host.Validate();
        if (_hosts.TryGetValue(host.Name, out var slot))
        {
            Detach(slot);
            slot.Description = host;
        }
        else
        {
            var record = _pendingRecords.Remove(host.Name, out var pending) ? pending : HostAllocationRecord.Empty(host.Name);
            slot = new HostSlot(host, record);
            _hosts.Add(host.Name, slot);
        }

        Attach(slot);
    }

    /// <summary>Forgets a host and everything placed on it; false when it was not known.</summary>
    public bool RemoveHost(string hostName)
    {
        _pendingRecords.Remove(hostName);
        if (!_hosts.Remove(hostName, out var slot))
        {
            return false;
        }

        Detach(slot);
        return true;
    }

    /// <summary>
    /// Replaces a host's allocation record with <paramref name="record"/> (a store write seen through the watch). An
    /// older version than the one held is ignored (false): events may arrive after the index moved on. A record for a
    /// host not yet known is kept until the host arrives.
    /// </summary>
    public bool ApplyRecord(HostAllocationRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!_hosts.TryGetValue(record.HostName, out var slot))
        {
            if (_pendingRecords.TryGetValue(record.HostName, out var pending) && pending.Version > record.Version)
            {
                return false;
            }

            _pendingRecords[record.HostName] = record;
            return true;
        }

        if (record.Version < slot.Record.Version)
        {
            return false;
        }

        Detach(slot);
        slot.Record = record;
        Attach(slot);
        return true;
    }

    /// <summary>
    /// Chooses a host for <paramref name="request"/> without changing anything. When no host qualifies the decision is
    /// not placed and carries the explanation.
    /// </summary>
    public PlacementDecision Decide(PlacementRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        if (_allocations.TryGetValue(request.AllocationId, out var current))
        {
            throw new InvalidOperationException($"Allocation '{request.AllocationId}' is already placed on host '{current.Description.Name}'.");
        }

        return DecideCore(request, excluded: null);
    }

    /// <summary>
    /// Chooses a new host for an allocation that may already be placed (healing, drain, redeploy): its current host is
    /// excluded and its own share does not count against the spread of its groups. Changes nothing. For an allocation
    /// that is not placed this is <see cref="Decide"/>.
    /// </summary>
    public PlacementDecision DecideMove(PlacementRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        if (!_allocations.TryGetValue(request.AllocationId, out var from))
        {
            return DecideCore(request, excluded: null);
        }

        var current = from.Record.Allocations.First(a => string.Equals(a.Id, request.AllocationId, StringComparison.Ordinal));
        ApplyAllocationEffects(from, current, -1);
        try
        {
            return DecideCore(request, excluded: from);
        }
        finally
        {
            ApplyAllocationEffects(from, current, +1);
        }
    }

    private PlacementDecision DecideCore(PlacementRequest request, HostSlot? excluded)
    {
        var search = new Search(this, request) { Excluded = excluded };
        if (search.Possible)
        {
            if (request.ReservationId is not null && _reservationHosts.TryGetValue(request.ReservationId, out var holders))
            {
                foreach (var slot in holders)
                {
                    if (slot.InService && search.PassesLocationAndTraits(slot))
                    {
                        search.Consider(slot, slot.Record.FreeFor(slot.Capacity, request.ReservationId));
                    }
                }
            }

            if (search.Best is null)
            {
                WalkBuckets(search);
            }
        }

        var allocation = request.ToAllocation();
        if (search.Best is not { } best)
        {
            return new PlacementDecision { Allocation = allocation, Explanation = Explain(request) };
        }

        return new PlacementDecision
        {
            Allocation = allocation,
            HostName = best.Description.Name,
            ExpectedVersion = best.Record.Version,
            ProposedRecord = best.Record.WithAllocation(allocation, best.Capacity),
            Score = search.BestScore,
        };
    }

    /// <summary>
    /// Runs every filter over every host and counts rejections (each host against the first filter that rejects it).
    /// A full scan: for operators and for requests that cannot be placed, not for the hot path.
    /// </summary>
    public PlacementExplanation Explain(PlacementRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        var rejected = Enum.GetValues<PlacementFilter>().ToDictionary(f => f, _ => 0);
        var search = new Search(this, request);
        var candidates = 0;
        foreach (var slot in _hosts.Values)
        {
            PlacementFilter? filter =
                !slot.InService ? PlacementFilter.State
                : !search.InAllowedCluster(slot) || !search.InZone(slot) ? PlacementFilter.Location
                : !search.HasTraits(slot) ? PlacementFilter.Traits
                : !(slot.Capacity - slot.Record.Used).Fits(request.Demand) ? PlacementFilter.Capacity
                : !slot.Record.FreeFor(slot.Capacity, request.ReservationId).Fits(request.Demand) ? PlacementFilter.Reservation
                : null;
            if (filter is { } f)
            {
                rejected[f]++;
            }
            else
            {
                candidates++;
            }
        }

        return new PlacementExplanation(_hosts.Count, rejected, candidates);
    }

    /// <summary>
    /// Commits <paramref name="decision"/> if the host's record is still at the version it was made against and the
    /// allocation still fits (compare-and-swap, as the store does it); the record's version then advances by one.
    /// </summary>
    public CommitResult TryCommit(PlacementDecision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        if (decision.HostName is null)
        {
            throw new ArgumentException("Only a placed decision can be committed.", nameof(decision));
        }

        if (!_hosts.TryGetValue(decision.HostName, out var slot) || !slot.InService)
        {
            return new CommitResult(CommitStatus.HostUnavailable, slot?.Record.Version ?? 0);
        }

        if (slot.Record.Version != decision.ExpectedVersion)
        {
            return new CommitResult(CommitStatus.VersionConflict, slot.Record.Version);
        }

        if (_allocations.ContainsKey(decision.Allocation.Id) || slot.Record.WithAllocation(decision.Allocation, slot.Capacity) is not { } next)
        {
            return new CommitResult(CommitStatus.Rejected, slot.Record.Version);
        }

        slot.Record = next.AtVersion(next.Version + 1);
        ApplyAllocationEffects(slot, decision.Allocation, +1);
        Refresh(slot);
        return new CommitResult(CommitStatus.Committed, slot.Record.Version);
    }

    /// <summary>Decides and commits, deciding again after a conflict (in process there is none); the committed decision.</summary>
    public PlacementDecision Place(PlacementRequest request)
    {
        for (var attempt = 0; ; attempt++)
        {
            var decision = Decide(request);
            if (!decision.IsPlaced || TryCommit(decision).Status == CommitStatus.Committed)
            {
                return decision;
            }

            if (attempt == 8)
            {
                throw new InvalidOperationException($"Placing '{request.AllocationId}' kept conflicting.");
            }
        }
    }

    /// <summary>Frees an allocation at once; its host's record version advances. False when it is not placed.</summary>
    public bool Free(string allocationId)
    {
        if (!_allocations.TryGetValue(allocationId, out var slot))
        {
            return false;
        }

        var allocation = slot.Record.Allocations.First(a => string.Equals(a.Id, allocationId, StringComparison.Ordinal));
        slot.Record = slot.Record.WithoutAllocation(allocationId).AtVersion(slot.Record.Version + 1);
        ApplyAllocationEffects(slot, allocation, -1);
        Refresh(slot);
        return true;
    }

    /// <summary>Holds capacity on a host for a reservation, with the same compare-and-swap as <see cref="TryCommit"/>.</summary>
    public CommitResult TryHoldReservation(string hostName, long expectedVersion, ReservationHold hold)
    {
        ArgumentNullException.ThrowIfNull(hold);
        if (!_hosts.TryGetValue(hostName, out var slot))
        {
            return new CommitResult(CommitStatus.HostUnavailable, 0);
        }

        if (slot.Record.Version != expectedVersion)
        {
            return new CommitResult(CommitStatus.VersionConflict, slot.Record.Version);
        }

        if (slot.Record.WithReservation(hold, slot.Capacity) is not { } next)
        {
            return new CommitResult(CommitStatus.Rejected, slot.Record.Version);
        }

        ApplyRecord(next.AtVersion(next.Version + 1));
        return new CommitResult(CommitStatus.Committed, slot.Record.Version);
    }

    /// <summary>Releases a reservation's holds on a host at once; allocations that used it stay.</summary>
    public bool ReleaseReservation(string hostName, string reservationId)
    {
        if (!_hosts.TryGetValue(hostName, out var slot))
        {
            return false;
        }

        ApplyRecord(slot.Record.WithoutReservation(reservationId).AtVersion(slot.Record.Version + 1));
        return true;
    }

    /// <summary>A deep copy (for what-if questions that must commit nothing).</summary>
    public PlacementIndex Clone()
    {
        var copy = new PlacementIndex(CandidateSample);
        foreach (var slot in _hosts.Values)
        {
            copy.UpsertHost(slot.Description);
            copy.ApplyRecord(slot.Record);
        }

        foreach (var pending in _pendingRecords.Values)
        {
            copy.ApplyRecord(pending);
        }

        return copy;
    }

    private static void WalkBuckets(Search search)
    {
        var demand = search.Request.Demand;
        for (var bucket = ClusterBuckets.KeyOf(demand.VCpus); bucket <= ClusterBuckets.Cap; bucket++)
        {
            foreach (var cluster in search.Clusters)
            {
                var hosts = cluster[bucket];
                if (hosts is null)
                {
                    continue;
                }

                for (var i = 0; i < hosts.Count; i++)
                {
                    var slot = hosts[i];
                    if (slot.GeneralFree.Fits(demand) && search.PassesLocationAndTraits(slot))
                    {
                        search.Consider(slot, slot.GeneralFree);
                        if (search.CanStop)
                        {
                            return;
                        }
                    }
                }
            }
        }
    }

    private void Attach(HostSlot slot)
    {
        var host = slot.Description;
        if (!_clusterOrdinals.TryGetValue(host.Cluster, out var cluster))
        {
            cluster = _clusters.Count;
            _clusterOrdinals.Add(host.Cluster, cluster);
            _clusters.Add(new ClusterBuckets(host.Cluster));
        }

        slot.Cluster = cluster;
        slot.FaultDomainKey = string.Concat(host.Cluster.ToUpperInvariant(), "\0", host.FaultDomain.ToUpperInvariant());
        slot.UpdateDomainKey = ((long)cluster << 32) | (uint)host.UpdateDomain;
        slot.Traits = TraitMask(host.Traits, register: true)!;
        foreach (var allocation in slot.Record.Allocations)
        {
            ApplyAllocationEffects(slot, allocation, +1);
        }

        foreach (var hold in slot.Record.Reservations)
        {
            if (!_reservationHosts.TryGetValue(hold.ReservationId, out var holders))
            {
                _reservationHosts[hold.ReservationId] = holders = [];
            }

            holders.Add(slot);
        }

        slot.GeneralFree = slot.Record.FreeFor(slot.Capacity, null);
        if (slot.InService)
        {
            var buckets = _clusters[cluster];
            buckets.FaultDomains[slot.FaultDomainKey] = buckets.FaultDomains.GetValueOrDefault(slot.FaultDomainKey) + 1;
            buckets.UpdateDomains[slot.UpdateDomainKey] = buckets.UpdateDomains.GetValueOrDefault(slot.UpdateDomainKey) + 1;
            buckets.Add(slot);
        }
    }

    private void Detach(HostSlot slot)
    {
        var buckets = _clusters[slot.Cluster];
        if (slot.Bucket >= 0)
        {
            buckets.Remove(slot);
            Decrement(buckets.FaultDomains, slot.FaultDomainKey);
            Decrement(buckets.UpdateDomains, slot.UpdateDomainKey);
        }

        foreach (var allocation in slot.Record.Allocations)
        {
            ApplyAllocationEffects(slot, allocation, -1);
        }

        foreach (var hold in slot.Record.Reservations)
        {
            if (_reservationHosts.TryGetValue(hold.ReservationId, out var holders) && holders.Remove(slot) && holders.Count == 0)
            {
                _reservationHosts.Remove(hold.ReservationId);
            }
        }
    }

    /// <summary>After a record change on an attached host: recompute free capacity and move it to its new bucket.</summary>
    private void Refresh(HostSlot slot)
    {
        slot.GeneralFree = slot.Record.Reservations.IsEmpty ? slot.Capacity - slot.Record.Used : slot.Record.FreeFor(slot.Capacity, null);
        if (slot.Bucket >= 0 && slot.Bucket != ClusterBuckets.KeyOf(slot.GeneralFree.VCpus))
        {
            var buckets = _clusters[slot.Cluster];
            buckets.Remove(slot);
            buckets.Add(slot);
        }
    }

    private void ApplyAllocationEffects(HostSlot slot, Allocation allocation, int delta)
    {
        if (delta > 0)
        {
            _allocations[allocation.Id] = slot;
        }
        else
        {
            _allocations.Remove(allocation.Id);
        }

        if (allocation.AvailabilitySet is { } set)
        {
            if (!_availabilitySets.TryGetValue(set, out var counts))
            {
                _availabilitySets[set] = counts = new SetCounts();
            }

            counts.FaultDomains[slot.FaultDomainKey] = counts.FaultDomains.GetValueOrDefault(slot.FaultDomainKey) + delta;
            counts.UpdateDomains[slot.UpdateDomainKey] = counts.UpdateDomains.GetValueOrDefault(slot.UpdateDomainKey) + delta;
            counts.Members += delta;
            if (counts.Members == 0)
            {
                _availabilitySets.Remove(set);
            }

            var members = slot.SetMembers;
            HostSlot.Adjust(ref members, set, delta);
            slot.SetMembers = members;
        }

        if (allocation.AntiAffinityGroup is { } group)
        {
            var counts = slot.AntiAffinity;
            HostSlot.Adjust(ref counts, group, delta);
            slot.AntiAffinity = counts;
        }
    }

    /// <summary>The bit mask of <paramref name="traits"/>; null when a trait no host has is asked for and not registered.</summary>
    private ulong[]? TraitMask(IReadOnlyList<string> traits, bool register)
    {
        var mask = Array.Empty<ulong>();
        foreach (var trait in traits)
        {
            if (!_traitBits.TryGetValue(trait, out var bit))
            {
                if (!register)
                {
                    return null;
                }

                bit = _traitBits.Count;
                _traitBits.Add(trait, bit);
            }

            if (bit / 64 >= mask.Length)
            {
                Array.Resize(ref mask, (bit / 64) + 1);
            }

            mask[bit / 64] |= 1UL << (bit % 64);
        }

        return mask;
    }

    private static void Decrement<TKey>(Dictionary<TKey, int> counts, TKey key)
        where TKey : notnull
    {
        var left = counts.GetValueOrDefault(key) - 1;
        if (left <= 0)
        {
            counts.Remove(key);
        }
        else
        {
            counts[key] = left;
        }
    }

    /// <summary>Members of one availability set per fault domain and per update domain.</summary>
    private sealed class SetCounts
    {
        public Dictionary<string, int> FaultDomains { get; } = new(StringComparer.Ordinal);

        public Dictionary<long, int> UpdateDomains { get; } = [];

        public int Members { get; set; }
    }

    /// <summary>One decision's constraints, best candidate so far and stopping rule.</summary>
    private sealed class Search
    {
        private readonly PlacementIndex _index;
        private readonly ulong[]? _traits;
        private readonly SetCounts? _set;
        private readonly double _softFloor;
        private double _bestSoft = double.MaxValue;
        private int _feasible;

        public Search(PlacementIndex index, PlacementRequest request)
        {
            _index = index;
            Request = request;
            _traits = index.TraitMask(request.RequiredTraits, register: false);
            if (request.Cluster is null)
            {
                Clusters = index._clusters;
            }
            else
            {
                Clusters = index._clusterOrdinals.TryGetValue(request.Cluster, out var ordinal) ? [index._clusters[ordinal]] : [];
            }

            Possible = _traits is not null && Clusters.Count > 0;
            if (request.AvailabilitySet is not null)
            {
                _set = index._availabilitySets.GetValueOrDefault(request.AvailabilitySet);
            }

            _softFloor = SoftFloor();
        }

        public PlacementRequest Request { get; }

        public List<ClusterBuckets> Clusters { get; }

        public bool Possible { get; }

        public HostSlot? Best { get; private set; }

        public double BestScore { get; private set; } = double.MaxValue;

        /// <summary>Enough candidates were scored, and none can beat the best on spread or affinity.</summary>
        public bool CanStop => _feasible >= _index.CandidateSample && _bestSoft <= _softFloor;

        public bool InAllowedCluster(HostSlot slot) =>
            Request.Cluster is null || string.Equals(slot.Description.Cluster, Request.Cluster, StringComparison.OrdinalIgnoreCase);

        public bool InZone(HostSlot slot) =>
            Request.Zone is null || string.Equals(slot.Description.Zone, Request.Zone, StringComparison.OrdinalIgnoreCase);

        public bool HasTraits(HostSlot slot) => _traits is not null && slot.HasTraits(_traits);

        public bool PassesLocationAndTraits(HostSlot slot) => InAllowedCluster(slot) && InZone(slot) && HasTraits(slot);

        /// <summary>A host the search must not choose (the one an allocation is moving off).</summary>
        public HostSlot? Excluded { get; init; }

        public void Consider(HostSlot slot, CapacityVector free)
        {
            if (ReferenceEquals(slot, Excluded) || !free.Fits(Request.Demand))
            {
                return;
            }

            _feasible++;
            var soft = 0.0;
            if (_set is not null)
            {
                soft += PlacementScoring.Spread(
                    _set.FaultDomains.GetValueOrDefault(slot.FaultDomainKey),
                    _set.UpdateDomains.GetValueOrDefault(slot.UpdateDomainKey),
                    slot.AvailabilitySetMembers(Request.AvailabilitySet!));
            }

            if (Request.AntiAffinityGroup is { } group)
            {
                soft += PlacementScoring.AntiAffinity(slot.AntiAffinityMembers(group));
            }

            var score = soft + PlacementScoring.Packing(slot.Capacity, free, Request.Demand);
            if (score < BestScore)
            {
                BestScore = score;
                Best = slot;
                _bestSoft = soft;
            }
        }

        /// <summary>The least spread cost any InService host in the allowed clusters could have (0 without a set).</summary>
        private double SoftFloor()
        {
            if (_set is null)
            {
                return 0;
            }

            int fewestInFaultDomain = int.MaxValue, fewestInUpdateDomain = int.MaxValue;
            foreach (var cluster in Clusters)
            {
                foreach (var faultDomain in cluster.FaultDomains.Keys)
                {
                    fewestInFaultDomain = Math.Min(fewestInFaultDomain, _set.FaultDomains.GetValueOrDefault(faultDomain));
                }

                foreach (var updateDomain in cluster.UpdateDomains.Keys)
                {
                    fewestInUpdateDomain = Math.Min(fewestInUpdateDomain, _set.UpdateDomains.GetValueOrDefault(updateDomain));
                }
            }

            return fewestInFaultDomain == int.MaxValue ? 0 : PlacementScoring.Spread(fewestInFaultDomain, fewestInUpdateDomain, 0);
        }
    }
}

/// <summary>A host's description and its allocation record, as the index holds them.</summary>
public readonly record struct HostSnapshot(HostDescription Description, HostAllocationRecord Allocations);
