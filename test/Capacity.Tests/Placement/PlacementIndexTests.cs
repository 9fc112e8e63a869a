using System.Collections.Immutable;
using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;
using static Holdfast.Capacity.Tests.Fleet;

namespace Holdfast.Capacity.Tests.Placement;

public sealed class PlacementIndexTests
{
    [Fact]
    public void TryCommit_StaleVersion_ReturnsConflictAndChangesNothing()
    {
        var index = Index(Host("h", 8, 32));
        var first = index.Decide(Vm("a", 4, 16));
        var second = index.Decide(Vm("b", 4, 16));

        Assert.Equal(new CommitResult(CommitStatus.Committed, 1), index.TryCommit(first));
        Assert.Equal(new CommitResult(CommitStatus.VersionConflict, 1), index.TryCommit(second));
        Assert.Null(index.HostOf("b"));
        Assert.Equal(Size(4, 16), index.FindHost("h")!.Value.Allocations.Used);
    }

    [Fact]
    public void TryCommit_HostLeftServiceSinceTheDecision_ReturnsHostUnavailable()
    {
        var index = Index(Host("h"));
        var decision = index.Decide(Vm("a"));
        index.UpsertHost(Host("h", state: HostState.Draining));

        Assert.Equal(CommitStatus.HostUnavailable, index.TryCommit(decision).Status);
    }

    [Fact]
    public void TryCommit_CapacityShrankSinceTheDecision_IsRejected()
    {
        var index = Index(Host("h", 8, 32));
        var decision = index.Decide(Vm("a", 8, 32));
        index.UpsertHost(Host("h", 4, 32));

        Assert.Equal(CommitStatus.Rejected, index.TryCommit(decision).Status);
    }

    [Fact]
    public void Free_PlacedVm_ReturnsCapacityAtOnce()
    {
        var index = Index(Host("h", 8, 32));
        index.PlaceOrFail(Vm("a", 8, 32));
        Assert.False(index.Decide(Vm("b", 8, 32)).IsPlaced);

        Assert.True(index.Free("a"));

        Assert.Equal("h", index.Decide(Vm("b", 8, 32)).HostName);
        Assert.Equal(2, index.FindHost("h")!.Value.Allocations.Version);
        Assert.False(index.Free("a"));
    }

    [Fact]
    public void Decide_AlreadyPlacedId_Throws()
    {
        var index = Index(Host("h"));
        index.PlaceOrFail(Vm("a"));

        Assert.Throws<InvalidOperationException>(() => index.Decide(Vm("a")));
    }

    [Fact]
    public void Decide_InvalidRequest_Throws()
    {
        var index = Index(Host("h"));

        Assert.Throws<ArgumentException>(() => index.Decide(new PlacementRequest("a", CapacityVector.Zero)));
        Assert.Throws<ArgumentException>(() => index.Decide(new PlacementRequest("a", new CapacityVector(-1, 4, 0, 0))));
        Assert.Throws<ArgumentException>(() => index.Decide(new PlacementRequest(" ", Size(1, 1))));
    }

    [Fact]
    public void ApplyRecord_FromTheWatch_UpdatesFreeCapacityAndOwnership()
    {
        var index = Index(Host("h", 8, 32), Host("g", 8, 32));
        var record = new HostAllocationRecord("h", 7, [new Allocation("x", Size(6, 8))], []);

        Assert.True(index.ApplyRecord(record));

        Assert.Equal("h", index.HostOf("x"));
        Assert.Equal("h", index.Decide(Vm("y", 2, 8)).HostName); // the tighter host now
        Assert.Equal(7, index.Decide(Vm("y", 2, 8)).ExpectedVersion);
        Assert.Equal("g", index.Decide(Vm("z", 4, 8)).HostName);
    }

    [Fact]
    public void ApplyRecord_OlderVersion_IsIgnored()
    {
        var index = Index(Host("h", 8, 32));
        index.ApplyRecord(new HostAllocationRecord("h", 7, [new Allocation("new", Size(2, 2))], []));

        Assert.False(index.ApplyRecord(new HostAllocationRecord("h", 5, [new Allocation("old", Size(2, 2))], [])));

        Assert.Equal("h", index.HostOf("new"));
        Assert.Null(index.HostOf("old"));
    }

    [Fact]
    public void ApplyRecord_BeforeItsHost_IsKeptUntilTheHostArrives()
    {
        var index = new PlacementIndex();
        index.ApplyRecord(new HostAllocationRecord("h", 3, [new Allocation("x", Size(8, 32))], []));
        Assert.Null(index.HostOf("x"));

        index.UpsertHost(Host("h", 8, 32));

        Assert.Equal("h", index.HostOf("x"));
        Assert.False(index.Decide(Vm("y", 1, 1)).IsPlaced);
    }

    [Fact]
    public void UpsertHost_StateChanges_TakeTheHostInAndOutOfPlacement()
    {
        var index = Index(Host("h", state: HostState.Validating));
        Assert.False(index.Decide(Vm("a")).IsPlaced);

        index.UpsertHost(Host("h"));
        Assert.Equal("h", index.Decide(Vm("a")).HostName);

        index.UpsertHost(Host("h", state: HostState.Draining));
        Assert.False(index.Decide(Vm("a")).IsPlaced);
    }

    [Fact]
    public void UpsertHost_MovedToAnotherCluster_IsFoundOnlyThere()
    {
        var index = Index(Host("h", cluster: "c1"));
        index.UpsertHost(Host("h", cluster: "c2"));

        Assert.False(index.Decide(Vm("a") with { Cluster = "c1" }).IsPlaced);
        Assert.Equal("h", index.Decide(Vm("a") with { Cluster = "c2" }).HostName);
    }

    [Fact]
    public void RemoveHost_ForgetsItsAllocations()
    {
        var index = Index(Host("h"));
        index.PlaceOrFail(Vm("a"));

        Assert.True(index.RemoveHost("h"));

        Assert.Null(index.HostOf("a"));
        Assert.Equal(0, index.HostCount);
        Assert.False(index.RemoveHost("h"));
    }

    [Fact]
    public void Rebuild_FromASnapshotInAnyOrder_DecidesAsTheOriginal()
    {
        var original = Index(Enumerable.Range(0, 40).Select(i => Host($"h{i}", 8 + (i % 5 * 8), 64, rack: $"r{i % 4}", updateDomain: i % 3)).ToArray());
        for (var i = 0; i < 120; i++)
        {
            original.Place(Vm($"vm{i}", 1 + (i % 4), 2 + (i % 7)) with { AvailabilitySet = i % 3 == 0 ? "set" : null });
        }

        for (var i = 0; i < 120; i += 5)
        {
            original.Free($"vm{i}");
        }

        // Records first, then hosts, reversed: the order a watch replay or a list may deliver them in.
        var rebuilt = new PlacementIndex();
        var snapshot = original.Hosts.Reverse().ToList();
        foreach (var (_, record) in snapshot)
        {
            rebuilt.ApplyRecord(record);
        }

        foreach (var (host, _) in snapshot)
        {
            rebuilt.UpsertHost(host);
        }

        for (var i = 0; i < 30; i++)
        {
            var request = Vm($"new{i}", 1 + (i % 6), 1 + (i % 9)) with { AvailabilitySet = i % 2 == 0 ? "set" : null };
            var expected = original.Decide(request);
            var actual = rebuilt.Decide(request);
            Assert.Equal(expected.IsPlaced, actual.IsPlaced);
            Assert.Equal(expected.Score, actual.Score, 9);
            Assert.Equal(original.FindHost(actual.HostName!)!.Value.Allocations.Version, actual.ExpectedVersion);
        }

        Assert.Equal(original.AllocationCount, rebuilt.AllocationCount);
    }

    [Fact]
    public void Clone_IsIndependent()
    {
        var index = Index(Host("h", 8, 32));
        var copy = index.Clone();

        copy.PlaceOrFail(Vm("a", 8, 32));

        Assert.Null(index.HostOf("a"));
        Assert.Equal("h", index.Decide(Vm("a", 8, 32)).HostName);
    }

    [Fact]
    public void Decide_ProposedRecord_IsTheCurrentRecordPlusTheAllocation()
    {
        var index = Index(Host("h"));
        index.PlaceOrFail(Vm("a"));

        var decision = index.Decide(Vm("b"));

        Assert.Equal(1, decision.ExpectedVersion);
        Assert.Equal(["a", "b"], decision.ProposedRecord!.Allocations.Select(a => a.Id));
    }

    [Fact]
    public void HostAllocationRecord_WithAllocation_RefusesWhatDoesNotFit()
    {
        var record = HostAllocationRecord.Empty("h");
        var capacity = Size(4, 8);

        var full = record.WithAllocation(new Allocation("a", Size(4, 8)), capacity)!;

        Assert.Null(full.WithAllocation(new Allocation("b", Size(1, 0)), capacity));
        Assert.Null(full.WithAllocation(new Allocation("a", Size(0, 1)), Size(8, 16))); // same id twice
        Assert.True(full.FitsWithin(capacity));
        Assert.False(new HostAllocationRecord("h", 1, [new Allocation("a", Size(5, 8))], ImmutableArray<ReservationHold>.Empty).FitsWithin(capacity));
    }
}
