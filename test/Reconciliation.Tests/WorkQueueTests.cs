using Holdfast.Reconciliation.Tests.Fakes;
using Holdfast.Testing;
using Xunit;

namespace Holdfast.Reconciliation.Tests;

public sealed class WorkQueueTests : IDisposable
{
    private static readonly TimeSpan BaseBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly ManualTimeProvider _time = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly WorkQueue<string> _queue;

    public WorkQueueTests()
    {
        _queue = new WorkQueue<string>(_time, StringComparer.Ordinal, BaseBackoff, MaxBackoff);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
        _queue.Dispose();
    }

    [Fact]
    public async Task Add_SameKeyTwiceWhileQueued_DeliversItOnce()
    {
        _queue.Add("a");
        _queue.Add("a");

        Assert.Equal(1, _queue.Count);
        Assert.Equal("a", await TakeAsync());
        var next = _queue.TakeAsync(_stop.Token).AsTask();
        Assert.False(next.IsCompleted);
        Assert.Equal(0, _queue.Count);
    }

    [Fact]
    public async Task Add_DistinctKeys_DeliversEachInOrder()
    {
        _queue.Add("a");
        _queue.Add("b");
        _queue.Add("a");

        Assert.Equal("a", await TakeAsync());
        Assert.Equal("b", await TakeAsync());
    }

    [Fact]
    public async Task Add_UsesComparer_KeysEqualUnderItAreOneKey()
    {
        using var queue = new WorkQueue<string>(_time, StringComparer.OrdinalIgnoreCase);

        queue.Add("Key");
        queue.Add("KEY");

        Assert.Equal(1, queue.Count);
        Assert.Equal("Key", await queue.TakeAsync(_stop.Token).AsTask().WaitAsync(Signals.Timeout));
    }

    [Fact]
    public async Task Add_WhileBeingProcessed_IsDeliveredAgainOnlyAfterDone()
    {
        _queue.Add("a");
        var first = await TakeAsync();

        _queue.Add("a");
        var second = _queue.TakeAsync(_stop.Token).AsTask();

        // The key is dirty but held by the first worker: a second worker must not get it yet.
        Assert.False(second.IsCompleted);
        Assert.Equal(1, _queue.Count);

        _queue.Done(first);

        Assert.Equal("a", await second.WaitAsync(Signals.Timeout));
    }

    [Fact]
    public async Task Add_AddedSeveralTimesWhileProcessing_IsDeliveredOnceAfterDone()
    {
        _queue.Add("a");
        var first = await TakeAsync();
        _queue.Add("a");
        _queue.Add("a");

        _queue.Done(first);

        Assert.Equal("a", await TakeAsync());
        var third = _queue.TakeAsync(_stop.Token).AsTask();
        Assert.False(third.IsCompleted);
    }

    [Fact]
    public async Task Done_NotReAdded_KeyIsNotDeliveredAgain()
    {
        _queue.Add("a");
        _queue.Done(await TakeAsync());

        var next = _queue.TakeAsync(_stop.Token).AsTask();

        Assert.False(next.IsCompleted);
        Assert.Equal(0, _queue.Count);
    }

    [Fact]
    public async Task AddAfter_ClockNotAdvancedEnough_DoesNotDeliver()
    {
        _queue.AddAfter("a", TimeSpan.FromSeconds(10));

        _time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));

        Assert.Equal(0, _queue.Count);

        _time.Advance(TimeSpan.FromTicks(1));

        Assert.Equal(1, _queue.Count);
        Assert.Equal("a", await TakeAsync());
    }

    [Fact]
    public async Task AddAfter_EarlierDeadlineWhileWaiting_EarlierOneWins()
    {
        _queue.AddAfter("a", TimeSpan.FromSeconds(10));
        _queue.AddAfter("a", TimeSpan.FromSeconds(2));
        _queue.AddAfter("a", TimeSpan.FromSeconds(5));

        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(1, _queue.Count);
        _queue.Done(await TakeAsync());
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, _queue.Count);
    }

    [Fact]
    public void AddAfter_ZeroDelay_AddsAtOnce()
    {
        _queue.AddAfter("a", TimeSpan.Zero);

        Assert.Equal(1, _queue.Count);
    }

    [Fact]
    public void AddAfter_KeyAlreadyQueued_DoesNotQueueItTwice()
    {
        _queue.Add("a");
        _queue.AddAfter("a", TimeSpan.FromSeconds(1));

        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(1, _queue.Count);
    }

    [Fact]
    public async Task Add_WhileDelayed_DeliversNowAndCancelsTheDelayedAdd()
    {
        _queue.AddAfter("a", TimeSpan.FromSeconds(10));

        _queue.Add("a");
        _queue.Done(await TakeAsync());
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(0, _queue.Count);
    }

    [Fact]
    public async Task AddRateLimited_ConsecutiveFailures_BackoffDoublesEachTime()
    {
        Assert.Equal(BaseBackoff, await FailAndMeasureBackoffAsync("a"));
        Assert.Equal(2 * BaseBackoff, await FailAndMeasureBackoffAsync("a"));
        Assert.Equal(4 * BaseBackoff, await FailAndMeasureBackoffAsync("a"));
        Assert.Equal(3, _queue.Failures("a"));
    }

    [Fact]
    public async Task AddRateLimited_ManyFailures_BackoffStopsAtMaximum()
    {
        for (var i = 0; i < 5; i++)
        {
            await FailAndMeasureBackoffAsync("a");
        }

        Assert.Equal(MaxBackoff, await FailAndMeasureBackoffAsync("a"));
        Assert.Equal(MaxBackoff, await FailAndMeasureBackoffAsync("a"));
    }

    [Fact]
    public async Task AddRateLimited_LargeBaseAfterManyFailures_WaitsTheMaximumInsteadOfOverflowing()
    {
        var max = TimeSpan.FromHours(1);
        using var queue = new WorkQueue<string>(_time, StringComparer.Ordinal, baseBackoff: TimeSpan.FromMinutes(20), maxBackoff: max);
        for (var i = 0; i < 40; i++)
        {
            // The key is already waiting, so these only count failures.
            queue.AddRateLimited("a");
        }

        _time.Advance(max);
        Assert.Equal(1, queue.Count);
        Assert.Equal(40, queue.Failures("a"));

        queue.Done(await queue.TakeAsync(_stop.Token).AsTask().WaitAsync(Signals.Timeout));
        queue.AddRateLimited("a");

        Assert.Equal(0, queue.Count);
        _time.Advance(max);
        Assert.Equal(1, queue.Count);
    }

    [Fact]
    public async Task AddRateLimited_PerKey_OtherKeysKeepTheirOwnBackoff()
    {
        await FailAndMeasureBackoffAsync("a");
        await FailAndMeasureBackoffAsync("a");

        Assert.Equal(BaseBackoff, await FailAndMeasureBackoffAsync("b"));
        Assert.Equal(0, _queue.Failures("c"));
    }

    [Fact]
    public async Task Forget_AfterFailures_ResetsBackoff()
    {
        await FailAndMeasureBackoffAsync("a");
        await FailAndMeasureBackoffAsync("a");
        await FailAndMeasureBackoffAsync("a");

        _queue.Forget("a");

        Assert.Equal(0, _queue.Failures("a"));
        Assert.Equal(BaseBackoff, await FailAndMeasureBackoffAsync("a"));
    }

    [Fact]
    public async Task Dispose_WaitingTaker_EndsWithChannelClosed()
    {
        var waiting = _queue.TakeAsync(_stop.Token).AsTask();

        _queue.Dispose();

        await Assert.ThrowsAsync<System.Threading.Channels.ChannelClosedException>(() => waiting.WaitAsync(Signals.Timeout));
    }

    [Fact]
    public async Task TakeAsync_Cancelled_Throws()
    {
        var waiting = _queue.TakeAsync(_stop.Token).AsTask();

        await _stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Signals.Timeout));
    }

    private async Task<string> TakeAsync() => await _queue.TakeAsync(_stop.Token).AsTask().WaitAsync(Signals.Timeout);

    /// <summary>
    /// Takes the key through one failed attempt as the loop does (take, AddRateLimited, Done) and returns how far the
    /// clock had to move before the key was queued again, stepping a tenth of the base backoff at a time. The key is
    /// taken and done again before returning, so the queue is left empty.
    /// </summary>
    private async Task<TimeSpan> FailAndMeasureBackoffAsync(string key)
    {
        _queue.Add(key);
        Assert.Equal(key, await TakeAsync());
        _queue.AddRateLimited(key);
        _queue.Done(key);

        var step = BaseBackoff / 10;
        var waited = TimeSpan.Zero;
        while (_queue.Count == 0)
        {
            Assert.True(waited < TimeSpan.FromMinutes(10), "The key was never queued again.");
            _time.Advance(step);
            waited += step;
        }

        Assert.Equal(key, await TakeAsync());
        _queue.Done(key);
        return waited;
    }
}
