using System.Threading.Channels;

namespace Holdfast.State.Sqlite;

/// <summary>
/// One live subscription: the writer offers it every committed event under its prefix without ever waiting. When
/// the bounded buffer is full the subscription is ended with a transient <see cref="StateStoreException"/>; the
/// consumer first reads what was buffered, so it can re-watch from the last revision it saw without a gap.
/// </summary>
internal sealed class Watcher(string prefix, int capacity)
{
    private readonly Channel<WatchEvent> _events = Channel.CreateBounded<WatchEvent>(
        new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.Wait });

    public string Prefix { get; } = prefix;

    public ChannelReader<WatchEvent> Events => _events.Reader;

    /// <summary>Offers the events of one commit; false (and the watch ended) when the consumer has fallen too far behind.</summary>
    public bool Offer(List<WatchEvent> events)
    {
        foreach (var change in events)
        {
            if (change.Kv.Key.StartsWith(Prefix, StringComparison.Ordinal) && !_events.Writer.TryWrite(change))
            {
                End(new StateStoreException(
                    $"The watch on '{Prefix}' fell more than {capacity} events behind and was ended; watch again from the last revision received.",
                    isTransient: true));
                return false;
            }
        }

        return true;
    }

    public void End(Exception reason) => _events.Writer.TryComplete(reason);
}
