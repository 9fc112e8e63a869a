using System.Threading.Channels;
using Holdfast.Testing;

namespace Holdfast.Reconciliation.Tests.Fakes;

/// <summary>
/// A <see cref="ManualTimeProvider"/> that also reports each timer armed through it, with its due time. A test awaits
/// <see cref="NextTimerAsync"/> before <see cref="Advance"/>, so the clock never moves past a timer that a worker thread
/// is about to create.
/// </summary>
internal sealed class TimerProbe : TimeProvider
{
    private readonly ManualTimeProvider _clock = new();
    private readonly Channel<TimeSpan> _armed = Channel.CreateUnbounded<TimeSpan>();

    public override long TimestampFrequency => _clock.TimestampFrequency;

    public override DateTimeOffset GetUtcNow() => _clock.GetUtcNow();

    public override long GetTimestamp() => _clock.GetTimestamp();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = _clock.CreateTimer(callback, state, dueTime, period);
        _armed.Writer.TryWrite(dueTime);
        return timer;
    }

    /// <summary>The due time of the next timer armed (or already armed and not yet reported).</summary>
    public async Task<TimeSpan> NextTimerAsync() => await _armed.Reader.ReadAsync().AsTask().WaitAsync(Signals.Timeout);

    public bool TryTakeArmedTimer(out TimeSpan dueTime) => _armed.Reader.TryRead(out dueTime);

    public void Advance(TimeSpan by) => _clock.Advance(by);
}
