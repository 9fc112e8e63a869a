using System.Diagnostics;
using Holdfast.Testing.Linearizability;
using Xunit.Abstractions;

namespace Holdfast.Server.HaTests.Workload;

/// <summary>
/// The shape every fault test shares: the workload runs a few seconds, the fault happens (bounded), the workload runs a
/// few seconds more, then: no unexpected answers, every acknowledged create reads back, writes were acknowledged both
/// before and after the fault, the history is linearizable, and the same history with its last read made stale is not.
/// </summary>
internal static class UnderLoad
{
    private const int Workers = 6;
    private static readonly TimeSpan Before = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan After = TimeSpan.FromSeconds(6);

    public static async Task RunAndCheckAsync(RegisterWorkload workload, Func<Task> fault, ITestOutputHelper output)
    {
        using var stop = new CancellationTokenSource();
        var load = workload.RunAsync(Workers, stop.Token);
        long faultStart, faultEnd;
        try
        {
            await Task.Delay(Before);
            faultStart = Stopwatch.GetTimestamp();
            using (var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                await fault().WaitAsync(bound.Token);
            }

            faultEnd = Stopwatch.GetTimestamp();
            await Task.Delay(After);
        }
        finally
        {
            await stop.CancelAsync();
            await load.WaitAsync(TimeSpan.FromSeconds(30));
        }

        await workload.FinalReadsAsync();
        var missing = await workload.MissingCreatesAsync();
        var checker = Stopwatch.StartNew();
        var result = RegisterChecker.Check(workload.History, workload.InitialValues);
        var history = workload.History;
        int ackedBefore = history.Count(op => IsAckedWrite(op) && op.Return < faultStart);
        int ackedAfter = history.Count(op => IsAckedWrite(op) && op.Call > faultEnd);
        output.WriteLine($"{history.Count} operations ({workload.AcknowledgedWrites} acknowledged writes: {ackedBefore} before the fault, {ackedAfter} after it; {workload.UnknownOutcomes} unknown outcomes), {workload.AcknowledgedCreates.Count} acknowledged creates");
        output.WriteLine($"checker: {result} in {checker.ElapsedMilliseconds} ms");

        Assert.True(workload.Unexpected.Count == 0, "Unexpected answers: " + string.Join("; ", workload.Unexpected.Take(3)));
        Assert.Empty(missing);
        Assert.True(ackedBefore > 0, "No write was acknowledged before the fault: the workload did not run.");
        Assert.True(ackedAfter > 0, "No write was acknowledged after the fault: the service did not come back.");
        Assert.True(result.Verdict == LinearizabilityVerdict.Linearizable, result.ToString());

        // The same history with its last read turned stale (the initial value, overwritten by acknowledged writes
        // before that read began) must be rejected: the check above is not vacuous on histories of this size.
        var last = history.Where(op => op.Kind == RegisterOperationKind.Read).MaxBy(op => op.Call)!;
        Assert.Contains(history, op => op.Key == last.Key && IsAckedWrite(op) && op.Return < last.Call);
        var stale = history.Select(op => ReferenceEquals(op, last) ? RegisterOperation.Read(last.Key, last.Call, last.Return!.Value, workload.InitialValues[last.Key]) : op);
        var staleResult = RegisterChecker.Check(stale, workload.InitialValues);
        output.WriteLine($"checker on the stale copy: {staleResult}");
        Assert.Equal(LinearizabilityVerdict.NotLinearizable, staleResult.Verdict);
    }

    private static bool IsAckedWrite(RegisterOperation op) =>
        op.Kind != RegisterOperationKind.Read && op.Return is not null && op.Succeeded != false;
}
