using FsCheck;
using FsCheck.Fluent;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Server.Fabric;
using Holdfast.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Holdfast.Server.Tests.Fabric;

/// <summary>
/// Healing never double-places. Two placement services (two replicas' indexes, each trailing the store by its own
/// watch) place, move (heal), free and re-place instances concurrently while hosts fail and return, in batches FsCheck
/// generates; after every batch the store must hold each instance on at most one host, on the host its document names,
/// with an epoch that never went backwards, and no host oversubscribed.
/// </summary>
public sealed class HealingPropertyTests
{
    private const int HostCount = 4;
    private const int InstanceCount = 8;
    private static readonly CapacityVector HostCapacity = new(8, 16 * 1024, 0, 0);
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(60).WithEndSize(40);

    private enum Kind
    {
        Place,
        Move,
        Free,
        FailHost,
        ReturnHost,
    }

    private sealed record Step(Kind Kind, int Service, int Target, int VCpus);

    private static Gen<Step> StepGen =>
        from kind in Gen.Frequency((4, Gen.Constant(Kind.Place)), (4, Gen.Constant(Kind.Move)), (1, Gen.Constant(Kind.Free)), (2, Gen.Constant(Kind.FailHost)), (2, Gen.Constant(Kind.ReturnHost)))
        from service in Gen.Choose(0, 1)
        from target in Gen.Choose(0, InstanceCount - 1)
        from vCpus in Gen.Choose(1, 4)
        select new Step(kind, service, target, vCpus);

    /// <summary>Batches of up to three steps run concurrently.</summary>
    private static Arbitrary<Step[][]> Scenarios => Gen.ArrayOf(Gen.ArrayOf(StepGen).Where(b => b.Length is > 0 and <= 3)).ToArbitrary();

    [Fact]
    public void ConcurrentPlacementAndHealing_NeverPutAnInstanceOnTwoHosts()
    {
        var totals = new Totals();
        Check.One(Runs, Prop.ForAll(Scenarios, batches => RunAsync(batches, totals).GetAwaiter().GetResult()));

        // Only meaningful if instances really moved between hosts. (Whether some run also left an instance waiting for
        // room depends on the draw; that path has its own deterministic test in CapacityServiceTests.)
        Assert.True(totals.Moves > 0, "No run moved an instance.");
    }

    private static async Task<bool> RunAsync(Step[][] batches, Totals totals)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var ct = timeout.Token;
        await using var store = new InMemoryStateStore(TimeProvider.System);
        for (var h = 0; h < HostCount; h++)
        {
            await PutHostAsync(store, h, HostState.InService, ct);
        }

        using var a = new CapacityService(store, NullLogger<CapacityService>.Instance);
        using var b = new CapacityService(store, NullLogger<CapacityService>.Instance);
        CapacityService[] services = [a, b];
        foreach (var service in services)
        {
            await service.StartAsync(ct);
            await service.WaitLoadedAsync(ct);
        }

        var epochs = new Dictionary<string, long>();
        try
        {
            foreach (var batch in batches)
            {
                // An instance freed in this batch may be placed again within it: a new life, whose epochs start over.
                foreach (var freed in batch.Where(step => step.Kind == Kind.Free))
                {
                    epochs.Remove($"vm-{freed.Target}");
                }

                await Task.WhenAll(batch.Select(step => Task.Run(() => RunStepAsync(store, services[step.Service], step, totals, ct), ct)));
                await CheckInvariantsAsync(store, epochs, ct);
            }
        }
        finally
        {
            foreach (var service in services)
            {
                await service.StopAsync(CancellationToken.None);
            }
        }

        return true;
    }

    private static async Task RunStepAsync(InMemoryStateStore store, CapacityService service, Step step, Totals totals, CancellationToken ct)
    {
        var id = $"vm-{step.Target}";
        ValueTask<TxnResult> Commit(TxnRequest request) => store.TxnAsync(request, ct);
        switch (step.Kind)
        {
            case Kind.Place:
                await service.PlaceAsync(new InstanceDocument { Id = id, Demand = new CapacityVector(step.VCpus, step.VCpus * 1024, 0, 0) }, [], [], Commit, ct);
                break;
            case Kind.Move when await store.GetAsync(FabricKeys.Instance(id), ct) is not null:
                try
                {
                    var moved = await service.MoveAsync(id, unplaceIfNoRoom: true, Commit, ct);
                    if (moved.Placed)
                    {
                        Interlocked.Increment(ref totals.Moves);
                    }
                }
                catch (KeyNotFoundException)
                {
                    // Freed concurrently.
                }

                break;
            case Kind.Free:
                await service.FreeAsync(id, [], [], Commit, ct);
                break;
            case Kind.FailHost:
                await PutHostAsync(store, step.Target % HostCount, HostState.Failed, ct);
                break;
            case Kind.ReturnHost:
                await PutHostAsync(store, step.Target % HostCount, HostState.InService, ct);
                break;
            default:
                break;
        }
    }

    private static async Task CheckInvariantsAsync(InMemoryStateStore store, Dictionary<string, long> epochs, CancellationToken ct)
    {
        var placedOn = new Dictionary<string, string>(StringComparer.Ordinal);
        var records = await store.RangeAsync(new RangeRequest(FabricKeys.AllocationsPrefix, 100, null), ct);
        foreach (var kv in records.Items)
        {
            var record = AllocationRecordCodec.Decode(kv.Value.Span, kv.ModRevision);
            Assert.True((HostCapacity - record.Used).IsNonNegative, $"{record.HostName} is oversubscribed: {record.Used}");
            foreach (var allocation in record.Allocations)
            {
                Assert.True(placedOn.TryAdd(allocation.Id, record.HostName), $"{allocation.Id} is on {placedOn.GetValueOrDefault(allocation.Id)} and {record.HostName}");
            }
        }

        var instances = await store.RangeAsync(new RangeRequest(FabricKeys.InstancesPrefix, 100, null), ct);

        // A freed instance's id may be used again (a new life); its epochs start over. VMs take a fresh id per creation.
        var present = instances.Items.Select(kv => FabricKeys.NameOf(kv.Key)).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var gone in epochs.Keys.Where(id => !present.Contains(id)).ToList())
        {
            epochs.Remove(gone);
        }

        foreach (var kv in instances.Items)
        {
            var instance = FabricJson.Deserialize<InstanceDocument>(kv.Value.Span);
            Assert.Equal(instance.Host, placedOn.GetValueOrDefault(instance.Id));
            placedOn.Remove(instance.Id);
            Assert.True(instance.Epoch >= epochs.GetValueOrDefault(instance.Id), $"{instance.Id}'s epoch went back");
            epochs[instance.Id] = instance.Epoch;
        }

        Assert.Empty(placedOn); // no allocation without its instance document
    }

    private static async Task PutHostAsync(InMemoryStateStore store, int index, HostState state, CancellationToken ct)
    {
        var host = new HostDocument { Name = $"h{index}", Site = "s", Cluster = "c", Rack = $"r{index % 2}", Capacity = HostCapacity, State = state };
        await store.PutAsync(FabricKeys.Host(host.Name), FabricJson.Serialize(host), null, ct);
    }

    private sealed class Totals
    {
        public int Moves;
    }
}
