using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;
using static Holdfast.Capacity.Tests.Fleet;

namespace Holdfast.Capacity.Tests.Placement;

public sealed class PlacementFilterTests
{
    /// <summary>One host, one request, and the filter expected to reject it (null: the host is a candidate).</summary>
    public sealed record Case(string Name, HostDescription Host, PlacementRequest Request, PlacementFilter? RejectedBy, ReservationHold? Hold = null)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Case> Cases() =>
    [
        new Case("fits", Host("h", 16, 64), Vm("vm", 4, 16), null),
        new Case("exact fit", Host("h", 4, 16), Vm("vm", 4, 16), null),
        new Case("draining host", Host("h", state: HostState.Draining), Vm("vm"), PlacementFilter.State),
        new Case("unreachable host", Host("h", state: HostState.Unreachable), Vm("vm"), PlacementFilter.State),
        new Case("validating host", Host("h", state: HostState.Validating), Vm("vm"), PlacementFilter.State),
        new Case("other cluster", Host("h", cluster: "c2"), Vm("vm") with { Cluster = "c1" }, PlacementFilter.Location),
        new Case("same cluster, other case", Host("h", cluster: "C1"), Vm("vm") with { Cluster = "c1" }, null),
        new Case("other zone", Host("h", zone: "2"), Vm("vm") with { Zone = "1" }, PlacementFilter.Location),
        new Case("no zone on host", Host("h"), Vm("vm") with { Zone = "1" }, PlacementFilter.Location),
        new Case("missing trait", Host("h", traits: ["ssd"]), Vm("vm") with { RequiredTraits = ["gpu-a100"] }, PlacementFilter.Traits),
        new Case("one of two traits", Host("h", traits: ["ssd"]), Vm("vm") with { RequiredTraits = ["ssd", "gen5"] }, PlacementFilter.Traits),
        new Case("traits, any case", Host("h", traits: ["SSD", "gen5"]), Vm("vm") with { RequiredTraits = ["ssd"] }, null),
        new Case("too few vCPUs", Host("h", 4, 64), Vm("vm", 8, 4), PlacementFilter.Capacity),
        new Case("too little memory", Host("h", 16, 8), Vm("vm", 2, 16), PlacementFilter.Capacity),
        new Case("too little disk", Host("h", diskGiB: 100), Vm("vm", diskGiB: 200), PlacementFilter.Capacity),
        new Case("no GPU", Host("h"), Vm("vm", gpus: 1), PlacementFilter.Capacity),
        new Case("held for another reservation", Host("h", 16, 64), Vm("vm", 8, 8), PlacementFilter.Reservation, new ReservationHold("r1", Size(12, 48))),
        new Case("held for this reservation", Host("h", 16, 64), Vm("vm", 8, 8) with { ReservationId = "r1" }, null, new ReservationHold("r1", Size(12, 48))),
        new Case("held, but enough left over", Host("h", 16, 64), Vm("vm", 4, 16), null, new ReservationHold("r1", Size(12, 48))),
        new Case("too big even with the hold", Host("h", 16, 64), Vm("vm", 32, 8) with { ReservationId = "r1" }, PlacementFilter.Capacity, new ReservationHold("r1", Size(12, 48))),
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void DecideAndExplain_OneHost_AgreeOnTheRejectingFilter(Case test)
    {
        var index = Index(test.Host);
        if (test.Hold is { } hold)
        {
            Assert.Equal(CommitStatus.Committed, index.TryHoldReservation(test.Host.Name, 0, hold).Status);
        }

        var explanation = index.Explain(test.Request);
        var decision = index.Decide(test.Request);

        Assert.Equal(1, explanation.HostsConsidered);
        if (test.RejectedBy is { } filter)
        {
            Assert.Equal(0, explanation.Candidates);
            Assert.Equal(1, explanation.RejectedBy[filter]);
            Assert.False(decision.IsPlaced);
            Assert.Equal(1, decision.Explanation!.RejectedBy[filter]);
        }
        else
        {
            Assert.Equal(1, explanation.Candidates);
            Assert.Equal(test.Host.Name, decision.HostName);
        }
    }

    [Fact]
    public void Explain_MixedFleet_CountsEachHostAgainstTheFirstFilterThatRejectsIt()
    {
        var index = Index(
            Host("draining", state: HostState.Draining),
            Host("failed-and-small", 1, 1, state: HostState.Failed),
            Host("elsewhere", cluster: "c2"),
            Host("small-1", 1, 2),
            Host("small-2", 2, 2),
            Host("fit-1"),
            Host("fit-2"));

        var explanation = index.Explain(Vm("vm", 4, 8) with { Cluster = "c1" });

        Assert.Equal(7, explanation.HostsConsidered);
        Assert.Equal(2, explanation.RejectedBy[PlacementFilter.State]);
        Assert.Equal(1, explanation.RejectedBy[PlacementFilter.Location]);
        Assert.Equal(2, explanation.RejectedBy[PlacementFilter.Capacity]);
        Assert.Equal(2, explanation.Candidates);
        Assert.Equal("2 of 7 hosts fit: State rejected 2, Location rejected 1, Capacity rejected 2", explanation.Summary);
    }

    [Fact]
    public void Decide_NothingFits_ExplainsWhy()
    {
        var index = Index(Host("a", 4, 16), Host("b", 8, 16, state: HostState.Maintenance));

        var decision = index.Decide(Vm("vm", 8, 8));

        Assert.False(decision.IsPlaced);
        Assert.Equal("0 of 2 hosts fit: State rejected 1, Capacity rejected 1", decision.Explanation!.Summary);
    }

    [Fact]
    public void Decide_UnknownClusterOrTrait_IsNotPlaced()
    {
        var index = Index(Host("a"));

        Assert.False(index.Decide(Vm("vm") with { Cluster = "nowhere" }).IsPlaced);
        Assert.False(index.Decide(Vm("vm") with { RequiredTraits = ["nothing-has-this"] }).IsPlaced);
    }

    [Fact]
    public void Decide_ReservationHolder_IsPreferredForRequestsNamingIt()
    {
        var index = Index(Host("tight", 4, 8), Host("holder", 32, 128));
        Assert.Equal(CommitStatus.Committed, index.TryHoldReservation("holder", 0, new ReservationHold("r1", Size(8, 32))).Status);

        Assert.Equal("holder", index.Decide(Vm("vm", 4, 8) with { ReservationId = "r1" }).HostName);
        Assert.Equal("tight", index.Decide(Vm("vm", 4, 8)).HostName);
    }

    [Fact]
    public void Place_ReservationConsumed_HoldsNothingMoreForOthers()
    {
        var index = Index(Host("h", 16, 64));
        index.TryHoldReservation("h", 0, new ReservationHold("r1", Size(8, 32)));
        index.PlaceOrFail(Vm("a", 8, 8));

        Assert.False(index.Decide(Vm("b", 8, 8)).IsPlaced);
        index.PlaceOrFail(Vm("r-vm", 8, 32) with { ReservationId = "r1" });
        Assert.Equal(CapacityVector.Zero, index.FindHost("h")!.Value.Allocations.UnusedReserved);
    }
}
