using System.Threading.Channels;

namespace Holdfast.Reconciliation;

/// <summary>
/// A de-duplicating queue of keys, after client-go's workqueue: a key waits in the queue at most once, is handed to
/// at most one worker at a time, and if it is added again while being processed it is queued again when that worker
/// calls <see cref="Done"/>. Delayed adds use the injected <see cref="TimeProvider"/>.
/// </summary>
public sealed class WorkQueue<TKey> : IDisposable
    where TKey : notnull
{
    private readonly Lock _lock = new();
    private readonly HashSet<TKey> _dirty;
    private readonly HashSet<TKey> _processing;
    private readonly Dictionary<TKey, Delayed> _delayed;
    private readonly Dictionary<TKey, int> _failures;
    private readonly Channel<TKey> _ready = Channel.CreateUnbounded<TKey>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _baseBackoff;
    private readonly TimeSpan _maxBackoff;

    public WorkQueue(TimeProvider timeProvider, IEqualityComparer<TKey>? comparer = null, TimeSpan? baseBackoff = null, TimeSpan? maxBackoff = null)
    {
        _timeProvider = timeProvider;
        _dirty = new HashSet<TKey>(comparer);
        _processing = new HashSet<TKey>(comparer);
        _delayed = new Dictionary<TKey, Delayed>(comparer);
        _failures = new Dictionary<TKey, int>(comparer);
        _baseBackoff = baseBackoff ?? TimeSpan.FromMilliseconds(5);
        _maxBackoff = maxBackoff ?? TimeSpan.FromSeconds(30);
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _dirty.Count;
            }
        }
    }

    public void Add(TKey key)
    {
        lock (_lock)
        {
            if (_delayed.Remove(key, out var delayed))
            {
                delayed.Timer.Dispose();
            }

            if (!_dirty.Add(key) || _processing.Contains(key))
            {
                return;
            }
        }

        _ready.Writer.TryWrite(key);
    }

    /// <summary>Queues the key after <paramref name="delay"/>; if it is already waiting for a later time, the earlier time wins.</summary>
    public void AddAfter(TKey key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(key);
            return;
        }

        lock (_lock)
        {
            if (_dirty.Contains(key))
            {
                return;
            }

            var due = _timeProvider.GetUtcNow() + delay;
            if (_delayed.TryGetValue(key, out var waiting))
            {
                if (waiting.Due <= due)
                {
                    return;
                }

                waiting.Timer.Dispose();
            }

            var entry = new Delayed(due);
            _delayed[key] = entry;
            entry.Timer = _timeProvider.CreateTimer(
                _ =>
                {
                    lock (_lock)
                    {
                        // A replaced timer may still fire once; only the current entry releases the key.
                        if (!_delayed.TryGetValue(key, out var current) || !ReferenceEquals(current, entry))
                        {
                            return;
                        }

                        _delayed.Remove(key);
                    }

                    Add(key);
                },
                null,
                delay,
                Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Queues the key again after an exponential backoff that grows with each consecutive failure.</summary>
    public void AddRateLimited(TKey key)
    {
        int failures;
        lock (_lock)
        {
            _failures.TryGetValue(key, out failures);
            _failures[key] = failures + 1;
        }

        // base * 2^failures, saturating at the maximum: comparing against max >> shift cannot overflow, the product can.
        var shift = Math.Min(failures, 62);
        var delay = _baseBackoff.Ticks > _maxBackoff.Ticks >> shift ? _maxBackoff : TimeSpan.FromTicks(_baseBackoff.Ticks << shift);
        AddAfter(key, delay);
    }

    /// <summary>Resets the key's failure count after a success.</summary>
    public void Forget(TKey key)
    {
        lock (_lock)
        {
            _failures.Remove(key);
        }
    }

    public int Failures(TKey key)
    {
        lock (_lock)
        {
            return _failures.TryGetValue(key, out var n) ? n : 0;
        }
    }

    /// <summary>Waits for the next key and marks it as being processed.</summary>
    public async ValueTask<TKey> TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var key = await _ready.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                if (_processing.Contains(key) || !_dirty.Remove(key))
                {
                    continue;
                }

                _processing.Add(key);
                return key;
            }
        }
    }

    /// <summary>Ends processing of a key; if it was added meanwhile it becomes ready again.</summary>
    public void Done(TKey key)
    {
        bool again;
        lock (_lock)
        {
            _processing.Remove(key);
            again = _dirty.Contains(key);
        }

        if (again)
        {
            _ready.Writer.TryWrite(key);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var delayed in _delayed.Values)
            {
                delayed.Timer.Dispose();
            }

            _delayed.Clear();
        }

        _ready.Writer.TryComplete();
    }

    private sealed class Delayed(DateTimeOffset due)
    {
        public DateTimeOffset Due { get; } = due;

        public ITimer Timer { get; set; } = null!;
    }
}
