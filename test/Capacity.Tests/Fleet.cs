using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;

namespace Holdfast.Capacity.Tests;

/// <summary>Small builders for hosts and requests, so each test states only what matters to it.</summary>
internal static class Fleet
{
    public static CapacityVector Size(int vCpus, int memoryGiB, int diskGiB = 0, int gpus = 0) => new(vCpus, memoryGiB * 1024, diskGiB, gpus);

    public static HostDescription Host(
        string name,
        int vCpus = 16,
        int memoryGiB = 64,
        int diskGiB = 0,
        int gpus = 0,
        string cluster = "c1",
        string rack = "r1",
        int updateDomain = 0,
        string? zone = null,
        HostState state = HostState.InService,
        params string[] traits) => new()
        {
            Name = name,
            Cluster = cluster,
            FaultDomain = rack,
            UpdateDomain = updateDomain,
            Zone = zone,
            Capacity = Size(vCpus, memoryGiB, diskGiB, gpus),
            State = state,
            Traits = traits,
        };

    public static PlacementRequest Vm(string id, int vCpus = 2, int memoryGiB = 4, int diskGiB = 0, int gpus = 0) => new(id, Size(vCpus, memoryGiB, diskGiB, gpus));

    public static PlacementIndex Index(params HostDescription[] hosts)
    {
        var index = new PlacementIndex();
        foreach (var host in hosts)
        {
            index.UpsertHost(host);
        }

        return index;
    }

    /// <summary>Places and commits; fails the test when it does not commit.</summary>
    public static string PlaceOrFail(this PlacementIndex index, PlacementRequest request)
    {
        var decision = index.Place(request);
        Assert.True(decision.IsPlaced, decision.Explanation?.Summary);
        return decision.HostName!;
    }
}
