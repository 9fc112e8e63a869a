using System.Threading.Channels;

namespace Holdfast.State.Conformance;

/// <summary>
/// Drains a watch in the background into a buffer the test reads with a generous timeout, so a test never blocks
/// on a stalled enumerator. How the watch ended (an exception, or none) is kept for <see cref="EndAsync"/>.
/// </summary>
internal sealed class WatchProbe : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<WatchEvent> _events = Channel.CreateUnbounded<WatchEvent>();
    private readonly Task _pump;

    public WatchProbe(IStateStore store, string prefix, long afterRevision)
    {
        _pump = Task.Run(() => PumpAsync(store, prefix, afterRevision));
    }

    public async Task<WatchEvent> NextAsync()
    {
        using var timeout = new CancellationTokenSource(StateStoreConformanceTests.WaitTimeout);
        return await _events.Reader.ReadAsync(timeout.Token);
    }

    public async Task<List<WatchEvent>> TakeAsync(int count)
    {
        var taken = new List<WatchEvent>(count);
        while (taken.Count < count)
        {
            taken.Add(await NextAsync());
        }

        return taken;
    }

    /// <summary>Reads events up to and including <paramref name="revision"/>.</summary>
    public async Task<List<WatchEvent>> TakeThroughAsync(long revision)
    {
        var taken = new List<WatchEvent>();
        while (taken.Count == 0 || taken[^1].Revision < revision)
        {
            taken.Add(await NextAsync());
        }

        return taken;
    }

    /// <summary>Skips buffered events and returns the exception the watch ended with (null when it ended cleanly).</summary>
    public async Task<Exception?> EndAsync()
    {
        using var timeout = new CancellationTokenSource(StateStoreConformanceTests.WaitTimeout);
        try
        {
            while (await _events.Reader.WaitToReadAsync(timeout.Token))
            {
                _events.Reader.TryRead(out _);
            }

            return null;
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !timeout.IsCancellationRequested)
        {
            return exception;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _pump;
        _stop.Dispose();
    }

    private async Task PumpAsync(IStateStore store, string prefix, long afterRevision)
    {
        try
        {
            await foreach (var change in store.WatchAsync(prefix, afterRevision, _stop.Token))
            {
                _events.Writer.TryWrite(change);
            }

            _events.Writer.TryComplete();
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            _events.Writer.TryComplete();
        }
        catch (Exception exception)
        {
            _events.Writer.TryComplete(exception);
        }
    }
}
