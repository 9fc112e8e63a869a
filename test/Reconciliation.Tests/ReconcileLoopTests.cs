using Holdfast.Reconciliation.Tests.Fakes;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Holdfast.Reconciliation.Tests;

public sealed class ReconcileLoopTests : IDisposable
{
    private static readonly TimeSpan BaseBackoff = TimeSpan.FromSeconds(1);

    private readonly TimerProbe _time = new();
    private readonly RecordingLogger _logger = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly WorkQueue<string> _queue;

    public ReconcileLoopTests()
    {
        _queue = new WorkQueue<string>(_time, StringComparer.Ordinal, BaseBackoff, TimeSpan.FromMinutes(1));
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
        _queue.Dispose();
    }

    [Fact]
    public async Task RunAsync_ReconcilerThrowsTwiceThenSucceeds_RetriesWithGrowingBackoffThenForgets()
    {
        var reconciler = new FakeReconciler((_, attempt, _) =>
            attempt <= 2 ? throw new InvalidOperationException($"attempt {attempt} failed") : Task.FromResult(ReconcileResult.Done));
        var run = Start(reconciler);

        _queue.Add("a");
        Assert.Equal(("a", 1), await reconciler.NextCallAsync());
        Assert.Equal(BaseBackoff, await _time.NextTimerAsync());
        Assert.Equal(1, _queue.Failures("a"));

        _time.Advance(BaseBackoff);
        Assert.Equal(("a", 2), await reconciler.NextCallAsync());
        Assert.Equal(2 * BaseBackoff, await _time.NextTimerAsync());
        Assert.Equal(2, _queue.Failures("a"));

        _time.Advance(2 * BaseBackoff);
        Assert.Equal(("a", 3), await reconciler.NextCallAsync());
        await StopAsync(run);

        Assert.Equal(3, reconciler.Attempts("a"));
        Assert.Equal(0, _queue.Failures("a"));
        Assert.False(_time.TryTakeArmedTimer(out _));
        Assert.Equal(0, _queue.Count);
        var warnings = _logger.Entries.Where(e => e.Level == LogLevel.Warning).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, w => Assert.IsType<InvalidOperationException>(w.Exception));
    }

    [Fact]
    public async Task RunAsync_RequeueAfter_RedeliversOnlyAfterTheClockAdvances()
    {
        var delay = TimeSpan.FromSeconds(30);
        var reconciler = new FakeReconciler((_, attempt, _) =>
            Task.FromResult(attempt == 1 ? ReconcileResult.After(delay) : ReconcileResult.Done));
        var run = Start(reconciler);

        _queue.Add("a");
        Assert.Equal(("a", 1), await reconciler.NextCallAsync());
        Assert.Equal(delay, await _time.NextTimerAsync());

        _time.Advance(delay - TimeSpan.FromSeconds(1));
        Assert.Equal(0, _queue.Count);
        Assert.Equal(1, reconciler.Attempts("a"));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(("a", 2), await reconciler.NextCallAsync());
        await StopAsync(run);

        Assert.Equal(0, _queue.Failures("a"));
        Assert.Empty(_logger.Entries);
    }

    [Fact]
    public async Task RunAsync_KeyAddedWhileReconciling_IsReconciledAgainAfterwardsNeverConcurrently()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reconciler = new FakeReconciler(async (key, attempt, _) =>
        {
            if (key == "a" && attempt == 1)
            {
                await release.Task;
            }

            return ReconcileResult.Done;
        });
        var run = Start(reconciler, workers: 4);

        _queue.Add("a");
        Assert.Equal(("a", 1), await reconciler.NextCallAsync());
        _queue.Add("a");
        _queue.Add("b");

        // Free workers took "b"; none took the second "a" while the first is still running.
        Assert.Equal(("b", 1), await reconciler.NextCallAsync());
        Assert.Equal(1, reconciler.Attempts("a"));

        release.SetResult();
        Assert.Equal(("a", 2), await reconciler.NextCallAsync());
        await StopAsync(run);

        Assert.Equal(1, reconciler.MaxConcurrentPerKey);
    }

    [Fact]
    public async Task RunAsync_Cancelled_StopsAllWorkers()
    {
        var reconciler = new FakeReconciler((_, _, _) => Task.FromResult(ReconcileResult.Done));
        var run = Start(reconciler, workers: 3);

        await StopAsync(run);

        Assert.True(run.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task RunAsync_ReconcilerObservesCancellationOnStop_KeyIsNotRequeued()
    {
        var reconciler = new FakeReconciler(async (_, _, cancellationToken) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            return ReconcileResult.Done;
        });
        var run = Start(reconciler);
        _queue.Add("a");
        await reconciler.NextCallAsync();

        await StopAsync(run);

        Assert.Equal(0, _queue.Failures("a"));
        Assert.False(_time.TryTakeArmedTimer(out _));
        Assert.Empty(_logger.Entries);
    }

    private Task Start(FakeReconciler reconciler, int workers = 1)
    {
        var loop = new ReconcileLoop<string>("test", reconciler, _queue, new ReconcileLoopOptions { Workers = workers }, _logger);
        return loop.RunAsync(_stop.Token);
    }

    private async Task StopAsync(Task run)
    {
        await _stop.CancelAsync();
        await run.WaitAsync(Signals.Timeout);
    }
}
