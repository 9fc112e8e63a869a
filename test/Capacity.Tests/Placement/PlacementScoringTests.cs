using Holdfast.Capacity.Placement;
using static Holdfast.Capacity.Tests.Fleet;

namespace Holdfast.Capacity.Tests.Placement;

public sealed class PlacementScoringTests
{
    [Theory]
    // capacity vCPUs/GiB, free vCPUs/GiB, demand vCPUs/GiB, expected score
    [InlineData(16, 64, 4, 16, 4, 16, 0.0)] // exact fit: nothing left, nothing stranded
    [InlineData(16, 64, 16, 64, 8, 32, 0.5)] // half left in both: mean 0.5, no imbalance
    [InlineData(16, 64, 16, 64, 2, 4, 0.9375)] // 14/16 and 60/64 left: mean 0.90625 + 0.5 × 0.0625
    [InlineData(16, 64, 8, 64, 8, 0, 1.0)] // vCPUs used up, all memory left: mean 0.5 + 0.5 × 1 (stranded memory)
    public void Packing_Table(int capCpu, int capMem, int freeCpu, int freeMem, int cpu, int mem, double expected)
    {
        Assert.Equal(expected, PlacementScoring.Packing(Size(capCpu, capMem), Size(freeCpu, freeMem), Size(cpu, mem)), 9);
    }

    [Fact]
    public void Packing_NonGpuVmOnGpuHost_IsPenalized()
    {
        var plain = PlacementScoring.Packing(Size(16, 64), Size(16, 64), Size(2, 4));
        var gpuHost = PlacementScoring.Packing(Size(16, 64, gpus: 4), Size(16, 64, gpus: 4), Size(2, 4));

        Assert.Equal(plain + PlacementScoring.GpuHostPenalty, gpuHost, 9);
    }

    [Fact]
    public void Packing_DiskOnlyCountsWhenAsked()
    {
        var noDisk = PlacementScoring.Packing(Size(16, 64, diskGiB: 1000), Size(8, 32, diskGiB: 1000), Size(8, 32));

        Assert.Equal(0.0, noDisk, 9);
        Assert.True(PlacementScoring.Packing(Size(16, 64, diskGiB: 1000), Size(8, 32, diskGiB: 1000), Size(8, 32, diskGiB: 10)) > 0);
    }

    [Theory]
    [InlineData(0, 0, 0, 0.0)]
    [InlineData(0, 2, 0, 200.0)]
    [InlineData(1, 0, 0, 10_000.0)]
    [InlineData(1, 1, 1, 10_110.0)]
    public void Spread_Table(int inFaultDomain, int inUpdateDomain, int onHost, double expected)
    {
        Assert.Equal(expected, PlacementScoring.Spread(inFaultDomain, inUpdateDomain, onHost));
    }

    [Fact]
    public void Decide_TwoHosts_PicksTheTighterFit()
    {
        var index = Index(Host("big", 64, 256), Host("small", 8, 32));

        Assert.Equal("small", index.Decide(Vm("vm", 4, 16)).HostName);
    }

    [Fact]
    public void Decide_EqualVcpusLeft_AvoidsStrandingMemory()
    {
        // Both leave 4 vCPUs; "balanced" leaves 16 GiB, "memory-heavy" would leave 240 GiB stuck behind 4 vCPUs.
        var index = Index(Host("memory-heavy", 8, 256), Host("balanced", 8, 32));

        Assert.Equal("balanced", index.Decide(Vm("vm", 4, 16)).HostName);
    }

    [Fact]
    public void Decide_NonGpuVm_AvoidsGpuHost()
    {
        var index = Index(Host("gpu", 16, 64, gpus: 4), Host("plain", 32, 128));

        Assert.Equal("plain", index.Decide(Vm("vm", 2, 4)).HostName);
        Assert.Equal("gpu", index.Decide(Vm("gpu-vm", 2, 4, gpus: 1)).HostName);
    }

    [Fact]
    public void Place_AvailabilitySet_SpreadsOverFaultDomainsThenUpdateDomains()
    {
        var index = Index(
            Host("r1-a", rack: "r1", updateDomain: 0), Host("r1-b", rack: "r1", updateDomain: 1),
            Host("r2-a", rack: "r2", updateDomain: 0), Host("r2-b", rack: "r2", updateDomain: 1),
            Host("r3-a", rack: "r3", updateDomain: 0), Host("r3-b", rack: "r3", updateDomain: 1));

        var hosts = Enumerable.Range(0, 6).Select(i => index.PlaceOrFail(Vm($"vm{i}") with { AvailabilitySet = "web" })).ToList();

        var racks = hosts.Take(3).Select(h => h[..2]).ToHashSet();
        Assert.Equal(3, racks.Count); // the first three land in three different racks
        Assert.Equal(6, hosts.Distinct().Count()); // then the other update domain of each rack
    }

    [Fact]
    public void Place_WithoutAvailabilitySet_PacksOneHost()
    {
        var index = Index(Host("r1-a", rack: "r1"), Host("r2-a", rack: "r2"), Host("r3-a", rack: "r3"));

        var hosts = Enumerable.Range(0, 3).Select(i => index.PlaceOrFail(Vm($"vm{i}"))).ToList();

        Assert.Single(hosts.Distinct());
    }

    [Fact]
    public void Place_AntiAffinity_KeepsMembersOffEachOthersHosts()
    {
        var index = Index(Host("a"), Host("b"), Host("c"));

        var hosts = Enumerable.Range(0, 3).Select(i => index.PlaceOrFail(Vm($"db{i}") with { AntiAffinityGroup = "db" })).ToList();

        Assert.Equal(3, hosts.Distinct().Count());
    }

    [Fact]
    public void Place_AntiAffinityWhenHostsRunOut_StillPlaces()
    {
        var index = Index(Host("a"), Host("b"));

        var hosts = Enumerable.Range(0, 3).Select(i => index.PlaceOrFail(Vm($"db{i}") with { AntiAffinityGroup = "db" })).ToList();

        Assert.Equal(2, hosts.Distinct().Count());
    }

    [Fact]
    public void Place_ManyHostsManyBuckets_StillFindsTheBestFit()
    {
        // More hosts than the candidate sample, all ahead of the best one in no particular order.
        var hosts = Enumerable.Range(0, 100).Select(i => Host($"h{i}", 64, 256)).Append(Host("snug", 6, 24)).ToArray();
        var index = Index(hosts);

        Assert.Equal("snug", index.Decide(Vm("vm", 6, 24)).HostName);
    }
}
