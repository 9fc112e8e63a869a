using Holdfast.Capacity.Inventory;

namespace Holdfast.Capacity.Tests.Inventory;

public sealed class HostLifecycleTests
{
    /// <summary>The whole table, written out independently of the implementation: every allowed (from, to) pair.</summary>
    private static readonly HashSet<(HostState, HostState)> Legal =
    [
        (HostState.Provisioning, HostState.Validating), (HostState.Provisioning, HostState.Failed), (HostState.Provisioning, HostState.Decommissioned),
        (HostState.Validating, HostState.InService), (HostState.Validating, HostState.Maintenance), (HostState.Validating, HostState.Failed), (HostState.Validating, HostState.Decommissioned),
        (HostState.InService, HostState.Draining), (HostState.InService, HostState.Unreachable), (HostState.InService, HostState.Failed),
        (HostState.Draining, HostState.InService), (HostState.Draining, HostState.Maintenance), (HostState.Draining, HostState.Decommissioned), (HostState.Draining, HostState.Unreachable), (HostState.Draining, HostState.Failed),
        (HostState.Maintenance, HostState.Validating), (HostState.Maintenance, HostState.Decommissioned), (HostState.Maintenance, HostState.Failed),
        (HostState.Unreachable, HostState.InService), (HostState.Unreachable, HostState.Draining), (HostState.Unreachable, HostState.Failed),
        (HostState.Failed, HostState.Maintenance), (HostState.Failed, HostState.Decommissioned),
    ];

    public static TheoryData<HostState, HostState> AllPairs()
    {
        var data = new TheoryData<HostState, HostState>();
        foreach (var from in Enum.GetValues<HostState>())
        {
            foreach (var to in Enum.GetValues<HostState>())
            {
                data.Add(from, to);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllPairs))]
    public void Check_EmptyHost_FollowsTheTable(HostState from, HostState to)
    {
        var transition = HostLifecycle.Check(from, to, placedVms: 0);

        Assert.Equal(Legal.Contains((from, to)), transition.IsAllowed);
        Assert.Equal(transition.IsAllowed, transition.Reason is null);
    }

    [Theory]
    [InlineData(HostState.Provisioning, HostState.InService, "must pass validation")]
    [InlineData(HostState.Maintenance, HostState.InService, "must pass validation")]
    [InlineData(HostState.Failed, HostState.InService, "must pass validation")]
    [InlineData(HostState.Decommissioned, HostState.Validating, "decommissioned host cannot change state")]
    [InlineData(HostState.InService, HostState.Maintenance, "from InService it may move to Draining, Unreachable, Failed")]
    [InlineData(HostState.InService, HostState.InService, "already InService")]
    public void Check_IllegalTransition_RefusesWithAReason(HostState from, HostState to, string reason)
    {
        var transition = HostLifecycle.Check(from, to, placedVms: 0);

        Assert.False(transition.IsAllowed);
        Assert.Contains(reason, transition.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(HostState.Draining, HostState.Decommissioned)]
    [InlineData(HostState.Draining, HostState.Maintenance)]
    [InlineData(HostState.Failed, HostState.Decommissioned)]
    public void Check_HostWithVms_RefusesDecommissionAndMaintenance(HostState from, HostState to)
    {
        var transition = HostLifecycle.Check(from, to, placedVms: 3);

        Assert.False(transition.IsAllowed);
        Assert.Contains("still holds 3 VM(s)", transition.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(HostState.InService, HostState.Draining)]
    [InlineData(HostState.InService, HostState.Unreachable)]
    [InlineData(HostState.Unreachable, HostState.Failed)]
    public void Check_HostWithVms_AllowsLeavingServiceWithoutEmptying(HostState from, HostState to)
    {
        Assert.True(HostLifecycle.Check(from, to, placedVms: 3).IsAllowed);
    }

    [Fact]
    public void NextStates_Decommissioned_IsTerminal()
    {
        Assert.Empty(HostLifecycle.NextStates(HostState.Decommissioned));
    }
}
