using static Holdfast.Capacity.Tests.Fleet;

namespace Holdfast.Capacity.Tests.Placement;

public sealed class DecideMoveTests
{
    [Fact]
    public void A_move_never_chooses_the_current_host()
    {
        var index = Index(Host("h1", rack: "r1"), Host("h2", rack: "r2"));
        var placed = index.PlaceOrFail(Vm("vm"));

        var move = index.DecideMove(Vm("vm"));

        Assert.True(move.IsPlaced);
        Assert.NotEqual(placed, move.HostName);
    }

    [Fact]
    public void A_move_with_no_other_host_is_not_placed_and_the_index_is_unchanged()
    {
        var index = Index(Host("h1", rack: "r1"));
        index.PlaceOrFail(Vm("vm") with { AvailabilitySet = "set" });

        var move = index.DecideMove(Vm("vm") with { AvailabilitySet = "set" });

        Assert.False(move.IsPlaced);
        Assert.Equal("h1", index.HostOf("vm"));
        Assert.Equal(2, index.FindHost("h1")!.Value.Allocations.Used.VCpus);
    }

    [Fact]
    public void For_an_unplaced_allocation_a_move_is_a_decision()
    {
        var index = Index(Host("h1", rack: "r1"));

        Assert.Equal("h1", index.DecideMove(Vm("vm")).HostName);
    }
}
