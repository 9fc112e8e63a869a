using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;
using Holdfast.Capacity.Planning;
using static Holdfast.Capacity.Tests.Fleet;

namespace Holdfast.Capacity.Tests.Planning;

public sealed class CapacityPlannerTests
{
    [Fact]
    public void Utilization_PerClusterAndDimension_CountsInServiceHostsAndStrandedCapacity()
    {
        var index = Index(
            Host("a", 16, 64, cluster: "c1"),
            Host("b", 16, 64, cluster: "c1"),
            Host("off", 16, 64, cluster: "c1", state: HostState.Maintenance),
            Host("c", 8, 32, cluster: "c2"));
        index.PlaceOrFail(Vm("cpu-heavy", 16, 16) with { Cluster = "c1" }); // leaves 48 GiB behind 0 vCPUs: stranded
        index.PlaceOrFail(Vm("small", 2, 8) with { Cluster = "c2" });

        var report = CapacityPlanner.Utilization(index.Hosts, smallestVm: Size(1, 1));

        var c1 = report.Single(c => c.Cluster == "c1");
        Assert.Equal((3, 2), (c1.Hosts, c1.InServiceHosts));
        Assert.Equal(Size(32, 128), c1.Capacity);
        Assert.Equal(0.5, c1.Utilization(0), 9);
        Assert.Equal(0.125, c1.Utilization(1), 9);
        Assert.Equal(Size(0, 48), c1.Stranded);
        Assert.Equal(48.0 / 128, c1.StrandedFraction(1), 9);
        var c2 = report.Single(c => c.Cluster == "c2");
        Assert.Equal(CapacityVector.Zero, c2.Stranded);
        Assert.Equal(0.25, c2.Utilization(0), 9);
    }

    [Fact]
    public void WhatIf_EnoughRoom_SaysWhereAndCommitsNothing()
    {
        var index = Index(Host("a", 8, 32), Host("b", 8, 32));

        var result = CapacityPlanner.WhatIf(index, Vm("web", 4, 16), 4);

        Assert.True(result.AllPlaceable);
        Assert.Equal(new Dictionary<string, int> { ["a"] = 2, ["b"] = 2 }, result.PerHost);
        Assert.Equal(0, index.AllocationCount);
    }

    [Fact]
    public void WhatIf_NotEnoughRoom_SaysHowManyAndWhyNotTheRest()
    {
        var index = Index(Host("a", 8, 32), Host("b", 8, 32, state: HostState.Draining));

        var result = CapacityPlanner.WhatIf(index, Vm("web", 4, 16), 3);

        Assert.False(result.AllPlaceable);
        Assert.Equal(2, result.Placeable);
        Assert.Equal(1, result.Shortfall!.RejectedBy[PlacementFilter.State]);
        Assert.Equal(1, result.Shortfall.RejectedBy[PlacementFilter.Capacity]);
        Assert.Equal(0, index.AllocationCount);
    }
}
