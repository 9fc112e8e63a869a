using FsCheck;
using FsCheck.Fluent;
using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;
using static Holdfast.Capacity.Tests.Fleet;

namespace Holdfast.Capacity.Tests.Placement;

/// <summary>
/// Concurrent placement never oversubscribes a host. Several placers, each with its own index fed by a lagging
/// watch, decide on stale views and commit to a shared store that, like ours, only compares versions (it knows
/// nothing about capacity); commits, frees, reservation holds and watch deliveries interleave in every order FsCheck
/// generates. Safety must come from the decide → (host, expected version, proposed record) → compare-and-swap protocol.
/// </summary>
public sealed class ConcurrentPlacementPropertyTests
{
    private const int Placers = 3;

    private static readonly HostDescription[] Hosts =
    [
        Host("h0", 8, 16, rack: "r0"), Host("h1", 8, 32, rack: "r1"), Host("h2", 4, 16, rack: "r0", updateDomain: 1), Host("h3", 16, 16, rack: "r2"),
    ];

    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(300).WithEndSize(120);

    private enum Kind
    {
        Decide,
        Commit,
        Deliver,
        Free,
        Hold,
    }

    private sealed record Step(Kind Kind, int Placer, int VCpus, int MemoryGiB, int Pick, bool InSet);

    private static Gen<Step> StepGen =>
        from kind in Gen.Frequency(
            (4, Gen.Constant(Kind.Decide)), (4, Gen.Constant(Kind.Commit)), (3, Gen.Constant(Kind.Deliver)), (2, Gen.Constant(Kind.Free)), (1, Gen.Constant(Kind.Hold)))
        from placer in Gen.Choose(0, Placers - 1)
        from vCpus in Gen.Choose(1, 6)
        from memory in Gen.Choose(1, 12)
        from pick in Gen.Choose(0, 1000)
        from inSet in Gen.Elements(true, false)
        select new Step(kind, placer, vCpus, memory, pick, inSet);

    private static Arbitrary<Step[]> Scenarios => Gen.ArrayOf(StepGen).ToArbitrary();

    [Fact]
    public void StalePlacersWithCompareAndSwap_NeverOversubscribeAHost()
    {
        var totals = new Totals();
        Check.One(Runs, Prop.ForAll(Scenarios, steps => Run(steps, totals)));

        // The property only means something if the runs really raced: conflicts happened and placements won.
        Assert.True(totals.Conflicts > 0, "No run produced a compare-and-swap conflict.");
        Assert.True(totals.Commits > 0, "No run committed a placement.");
    }

    [Fact]
    public void OneIndexInterleavedStaleDecisions_NeverOversubscribeAHost()
    {
        var conflicts = 0;
        Check.One(Runs, Prop.ForAll(Scenarios, steps =>
        {
            var index = Index(Hosts);
            var pending = new List<PlacementDecision>();
            var next = 0;
            foreach (var step in steps)
            {
                switch (step.Kind)
                {
                    case Kind.Decide:
                        var decision = index.Decide(Vm($"vm{next++}", step.VCpus, step.MemoryGiB));
                        if (decision.IsPlaced)
                        {
                            pending.Add(decision);
                        }

                        break;
                    case Kind.Commit when pending.Count > 0:
                        var chosen = pending[step.Pick % pending.Count];
                        pending.Remove(chosen);
                        if (index.TryCommit(chosen).Status == CommitStatus.VersionConflict)
                        {
                            conflicts++;
                        }

                        break;
                    case Kind.Free when index.AllocationCount > 0:
                        var ids = index.Hosts.SelectMany(h => h.Allocations.Allocations).Select(a => a.Id).ToList();
                        index.Free(ids[step.Pick % ids.Count]);
                        break;
                }

                AssertNotOversubscribed(index.Hosts.ToDictionary(h => h.Description.Name, h => h.Allocations));
            }

            return true;
        }));

        Assert.True(conflicts > 0, "No run produced a conflict.");
    }

    private static bool Run(Step[] steps, Totals totals)
    {
        var store = Hosts.ToDictionary(h => h.Name, h => HostAllocationRecord.Empty(h.Name));
        long revision = 0;
        var placers = Enumerable.Range(0, Placers).Select(_ => new Placer(Index(Hosts))).ToArray();
        var next = 0;

        bool CompareAndSwap(HostAllocationRecord proposed, long expected)
        {
            if (store[proposed.HostName].Version != expected)
            {
                totals.Conflicts++;
                return false;
            }

            var written = proposed.AtVersion(++revision);
            store[proposed.HostName] = written;
            foreach (var placer in placers)
            {
                placer.Watch.Enqueue(written);
            }

            return true;
        }

        foreach (var step in steps)
        {
            var placer = placers[step.Placer];
            switch (step.Kind)
            {
                case Kind.Decide:
                    var request = Vm($"vm{next++}", step.VCpus, step.MemoryGiB) with { AvailabilitySet = step.InSet ? "set" : null };
                    var decision = placer.Index.Decide(request);
                    if (decision.IsPlaced)
                    {
                        placer.Pending.Enqueue(decision);
                    }

                    break;
                case Kind.Commit when placer.Pending.Count > 0:
                    var chosen = placer.Pending.Dequeue();
                    if (CompareAndSwap(chosen.ProposedRecord!, chosen.ExpectedVersion))
                    {
                        totals.Commits++;
                    }

                    break;
                case Kind.Deliver:
                    // A lagging watch: deliver only part of what is queued.
                    for (var n = 1 + (step.Pick % 3); n > 0 && placer.Watch.Count > 0; n--)
                    {
                        placer.Index.ApplyRecord(placer.Watch.Dequeue());
                    }

                    break;
                case Kind.Free:
                    var view = placer.Index.Hosts.Where(h => !h.Allocations.Allocations.IsEmpty).ToList();
                    if (view.Count > 0)
                    {
                        var record = view[step.Pick % view.Count].Allocations;
                        var victim = record.Allocations[step.Pick % record.Allocations.Length];
                        CompareAndSwap(record.WithoutAllocation(victim.Id), record.Version);
                    }

                    break;
                case Kind.Hold:
                    var host = Hosts[step.Pick % Hosts.Length];
                    var current = placer.Index.FindHost(host.Name)!.Value.Allocations;
                    if (current.WithReservation(new ReservationHold("r", Size(step.VCpus, step.MemoryGiB)), host.Capacity) is { } held)
                    {
                        CompareAndSwap(held, current.Version);
                    }

                    break;
            }

            AssertNotOversubscribed(store);
        }

        // Once every event is delivered, every placer sees exactly the store.
        foreach (var placer in placers)
        {
            while (placer.Watch.Count > 0)
            {
                placer.Index.ApplyRecord(placer.Watch.Dequeue());
            }

            foreach (var (name, record) in store)
            {
                var seen = placer.Index.FindHost(name)!.Value.Allocations;
                Assert.Equal(record.Version, seen.Version);
                Assert.Equal(record.Allocations.Select(a => a.Id), seen.Allocations.Select(a => a.Id));
            }
        }

        return true;
    }

    private static void AssertNotOversubscribed(Dictionary<string, HostAllocationRecord> records)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var host in Hosts)
        {
            var record = records[host.Name];
            Assert.True(record.FitsWithin(host.Capacity), $"Host {host.Name} is oversubscribed: {record.Used} + held {record.UnusedReserved} > {host.Capacity}.");
            foreach (var allocation in record.Allocations)
            {
                Assert.True(seen.Add(allocation.Id), $"Allocation {allocation.Id} is placed twice.");
            }
        }
    }

    private sealed class Placer(PlacementIndex index)
    {
        public PlacementIndex Index { get; } = index;

        public Queue<PlacementDecision> Pending { get; } = new();

        public Queue<HostAllocationRecord> Watch { get; } = new();
    }

    private sealed class Totals
    {
        public int Conflicts { get; set; }

        public int Commits { get; set; }
    }
}
