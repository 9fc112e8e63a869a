using System.Threading.Channels;

namespace Holdfast.Server.Audit;

/// <summary>Wakes <see cref="AuditChainer"/> when a pending record committed; many notifications while it works collapse into one.</summary>
internal sealed class AuditChainSignal
{
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Notify() => _channel.Writer.TryWrite(true);

    /// <summary>Completes when notified (consuming the notification) or when <paramref name="timeout"/> passes.</summary>
    public async Task WaitAsync(TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var delay = new CancellationTokenSource(timeout, timeProvider);
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, delay.Token);
        try
        {
            await _channel.Reader.WaitToReadAsync(timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The poll interval passed: look for records anyway (another process may have written them).
        }

        _channel.Reader.TryRead(out _);
    }
}
