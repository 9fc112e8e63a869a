using FsCheck;
using FsCheck.Fluent;
using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;
using static Holdfast.Capacity.Tests.Fleet;

namespace Holdfast.Capacity.Tests.Placement;

/// <summary>
/// The bucket walk and candidate sampling never miss: a request is placed exactly when the full-scan explanation finds
/// a candidate, and the chosen host is one of the candidates.
/// </summary>
public sealed class PlacementCompletenessPropertyTests
{
    private sealed record HostSpec(int VCpus, int MemoryGiB, int Cluster, bool InService, bool Ssd, int UsedVCpus, int UsedGiB, int HeldVCpus);

    private sealed record RequestSpec(int VCpus, int MemoryGiB, int? Cluster, bool NeedsSsd, bool NamesReservation, bool InSet);

    private static Gen<HostSpec> HostGen =>
        from vCpus in Gen.Elements(4, 8, 16, 32, 64)
        from memory in Gen.Elements(8, 16, 64, 256)
        from cluster in Gen.Choose(0, 2)
        from inService in Gen.Frequency((4, Gen.Constant(true)), (1, Gen.Constant(false)))
        from ssd in Gen.Elements(true, false)
        from usedCpu in Gen.Choose(0, vCpus)
        from usedMem in Gen.Choose(0, memory)
        from held in Gen.Frequency((3, Gen.Constant(0)), (1, Gen.Choose(0, vCpus - usedCpu)))
        select new HostSpec(vCpus, memory, cluster, inService, ssd, usedCpu, usedMem, held);

    private static Gen<RequestSpec> RequestGen =>
        from vCpus in Gen.Choose(1, 40)
        from memory in Gen.Choose(1, 80)
        from cluster in Gen.Frequency((2, Gen.Constant<int?>(null)), (1, Gen.Choose(0, 3).Select(c => (int?)c)))
        from ssd in Gen.Elements(true, false)
        from reservation in Gen.Elements(true, false)
        from inSet in Gen.Elements(true, false)
        select new RequestSpec(vCpus, memory, cluster, ssd, reservation, inSet);

    [Fact]
    public void Decide_AnyFleet_PlacesExactlyWhenExplainFindsACandidate()
    {
        var scenarios = (from hosts in Gen.ListOf(HostGen) from request in RequestGen select (hosts, request)).ToArbitrary();
        var placed = 0;
        var refused = 0;

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500).WithEndSize(80), Prop.ForAll(scenarios, scenario =>
        {
            var (hosts, spec) = scenario;
            var index = new PlacementIndex(candidateSample: 2);
            for (var i = 0; i < hosts.Count; i++)
            {
                var h = hosts[i];
                var name = $"h{i}";
                index.UpsertHost(Host(name, h.VCpus, h.MemoryGiB, cluster: $"c{h.Cluster}", rack: $"r{i % 3}", updateDomain: i % 2, state: h.InService ? HostState.InService : HostState.Draining, traits: h.Ssd ? ["ssd"] : []));
                var record = new HostAllocationRecord(name, 1, h.UsedVCpus + h.UsedGiB > 0 ? [new Allocation($"used-{i}", Size(h.UsedVCpus, h.UsedGiB)) { AvailabilitySet = i % 2 == 0 ? "set" : null }] : [], h.HeldVCpus > 0 ? [new ReservationHold("r", Size(h.HeldVCpus, 0))] : []);
                index.ApplyRecord(record);
            }

            var request = Vm("vm", spec.VCpus, spec.MemoryGiB) with
            {
                Cluster = spec.Cluster is { } c ? $"c{c}" : null,
                RequiredTraits = spec.NeedsSsd ? ["ssd"] : [],
                ReservationId = spec.NamesReservation ? "r" : null,
                AvailabilitySet = spec.InSet ? "set" : null,
            };

            var decision = index.Decide(request);
            var explanation = index.Explain(request);

            Assert.Equal(hosts.Count, explanation.Candidates + explanation.RejectedBy.Values.Sum());
            Assert.Equal(explanation.Candidates > 0, decision.IsPlaced);
            if (decision.IsPlaced)
            {
                placed++;
                var only = index.Clone();
                foreach (var other in index.Hosts.Where(h => h.Description.Name != decision.HostName))
                {
                    only.RemoveHost(other.Description.Name);
                }

                Assert.Equal(1, only.Explain(request).Candidates); // the chosen host passes every filter
                Assert.Equal(CommitStatus.Committed, index.TryCommit(decision).Status);
            }
            else
            {
                refused++;
            }

            return true;
        }));

        Assert.True(placed > 0 && refused > 0, $"Placed {placed}, refused {refused}: the generator must produce both.");
    }
}
