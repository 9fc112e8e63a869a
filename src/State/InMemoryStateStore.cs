using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Holdfast.State;

/// <summary>
/// An <see cref="IStateStore"/> held in memory, for unit tests of components built on the store. It keeps the same
/// contract as the durable backends (it passes the same conformance suite, reopen aside): byte-wise key order, one
/// revision per write or writing transaction, watches without gaps, leases that expire on the injected
/// <see cref="TimeProvider"/>. One lock serialises everything and ranges scan every key, so it is not for production.
/// As in State.Sqlite, a Put with an unknown or expired lease throws a non-transient <see cref="StateStoreException"/>,
/// and a watcher more than <c>watchBufferCapacity</c> events behind is ended with a transient one.
/// </summary>
public sealed class InMemoryStateStore : IStateStore
{
    private readonly Lock _gate = new();
    private readonly SortedDictionary<string, KeyValue> _keys = new(CodePointOrder.Instance);
    private readonly List<WatchEvent> _history = [];
    private readonly List<WatchEvent> _pending = [];
    private readonly Dictionary<long, LeaseState> _leases = [];
    private readonly List<Subscription> _subscriptions = [];
    private readonly TimeProvider _time;
    private readonly ITimer _leaseTimer;
    private readonly int _watchBufferCapacity;
    private long _revision;
    private long _compacted;
    private long _lastLeaseId;
    private bool _disposed;

    public InMemoryStateStore(TimeProvider timeProvider, int watchBufferCapacity = 4096)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentOutOfRangeException.ThrowIfLessThan(watchBufferCapacity, 1);
        _time = timeProvider;
        _watchBufferCapacity = watchBufferCapacity;
        var interval = TimeSpan.FromMilliseconds(500);
        _leaseTimer = timeProvider.CreateTimer(static state => ((InMemoryStateStore)state!).ExpireLeases(), this, interval, interval);
    }

    public ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            return ValueTask.FromResult(_revision);
        }
    }

    public ValueTask<KeyValue?> GetAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        lock (_gate)
        {
            ThrowIfDisposed();
            return ValueTask.FromResult(_keys.GetValueOrDefault(key));
        }
    }

    public ValueTask<RangeResult> RangeAsync(RangeRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Prefix, nameof(request));
        ArgumentOutOfRangeException.ThrowIfNegative(request.Limit, nameof(request));
        ArgumentOutOfRangeException.ThrowIfNegative(request.Revision, nameof(request));
        lock (_gate)
        {
            ThrowIfDisposed();
            CheckReadRevision(request.Revision, _revision);
            var items = new List<KeyValue>();
            string? continueAfter = null;
            foreach (var kv in InRange(request.Prefix))
            {
                if (request.StartAfter is not null && CodePointOrder.Instance.Compare(kv.Key, request.StartAfter) <= 0)
                {
                    continue;
                }

                if (request.Limit > 0 && items.Count == request.Limit)
                {
                    continueAfter = items[^1].Key;
                    break;
                }

                items.Add(kv);
            }

            return ValueTask.FromResult(new RangeResult(items, _revision, continueAfter));
        }
    }

    public ValueTask<WriteResult> PutAsync(string key, ReadOnlyMemory<byte> value, long? expectedModRevision, CancellationToken cancellationToken, long lease = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentOutOfRangeException.ThrowIfNegative(lease);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ThrowIfDisposed();
            ThrowIfLeaseMissing(lease);
            var current = _keys.GetValueOrDefault(key);
            if (expectedModRevision is { } expected && (current?.ModRevision ?? 0) != expected)
            {
                return ValueTask.FromResult(new WriteResult(false, _revision, current));
            }

            var kv = Put(key, value, lease, _revision + 1);
            _revision++;
            Publish();
            return ValueTask.FromResult(new WriteResult(true, _revision, kv));
        }
    }

    public ValueTask<WriteResult> DeleteAsync(string key, long? expectedModRevision, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ThrowIfDisposed();
            var current = _keys.GetValueOrDefault(key);
            if (current is null || (expectedModRevision is { } expected && current.ModRevision != expected))
            {
                return ValueTask.FromResult(new WriteResult(false, _revision, current));
            }

            Delete(key, ++_revision);
            Publish();
            return ValueTask.FromResult(new WriteResult(true, _revision, null));
        }
    }

    public ValueTask<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ThrowIfDisposed();
            bool succeeded = request.Compares.All(compare => compare.IsSatisfiedBy(_keys.GetValueOrDefault(compare.Key)));
            var ops = succeeded ? request.Success : request.Failure;
            foreach (var op in ops)
            {
                if (op.Type == TxnOpType.Put)
                {
                    ThrowIfLeaseMissing(op.Lease);
                }
            }

            long revision = _revision + 1;
            bool wrote = false;
            var results = new List<TxnOpResult>(ops.Count);
            foreach (var op in ops)
            {
                var found = _keys.GetValueOrDefault(op.Key);
                switch (op.Type)
                {
                    case TxnOpType.Put:
                        Put(op.Key, op.Value, op.Lease, revision);
                        results.Add(new TxnOpResult(found is null ? [] : [found], 0));
                        wrote = true;
                        break;
                    case TxnOpType.Delete when found is not null:
                        Delete(op.Key, revision);
                        results.Add(new TxnOpResult([found], 1));
                        wrote = true;
                        break;
                    case TxnOpType.Delete:
                        results.Add(new TxnOpResult([], 0));
                        break;
                    case TxnOpType.DeletePrefix:
                        var doomed = InRange(op.Key).ToList();
                        foreach (var kv in doomed)
                        {
                            Delete(kv.Key, revision);
                        }

                        results.Add(new TxnOpResult(doomed, doomed.Count));
                        wrote |= doomed.Count > 0;
                        break;
                    case TxnOpType.Get:
                        results.Add(new TxnOpResult(found is null ? [] : [found], 0));
                        break;
                    case TxnOpType.Range:
                        results.Add(new TxnOpResult(InRange(op.Key).ToList(), 0));
                        break;
                    default:
                        throw new ArgumentOutOfRangeException(nameof(request), op.Type, "Unknown transaction operation.");
                }
            }

            if (wrote)
            {
                _revision = revision;
                Publish();
            }

            return ValueTask.FromResult(new TxnResult(succeeded, _revision, results));
        }
    }

    public async IAsyncEnumerable<WatchEvent> WatchAsync(string prefix, long afterRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentOutOfRangeException.ThrowIfNegative(afterRevision);
        var subscription = new Subscription(prefix, _watchBufferCapacity);
        List<WatchEvent> replay;
        long replayedThrough;

        // History is copied and the subscription added under one lock, so nothing falls between them.
        lock (_gate)
        {
            ThrowIfDisposed();
            if (afterRevision < _compacted)
            {
                throw new RevisionCompactedException(afterRevision + 1, _compacted);
            }

            replay = _history.Where(e => e.Revision > afterRevision && e.Kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            replayedThrough = Math.Max(_revision, afterRevision);
            _subscriptions.Add(subscription);
        }

        try
        {
            foreach (var change in replay)
            {
                yield return change;
            }

            var live = subscription.Events;
            while (await live.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (live.TryRead(out var change))
                {
                    if (change.Revision > replayedThrough)
                    {
                        yield return change;
                    }
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _subscriptions.Remove(subscription);
            }
        }
    }

    public ValueTask<LeaseGrant> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        var rounded = TimeSpan.FromMilliseconds(Math.Ceiling(ttl.TotalMilliseconds));
        lock (_gate)
        {
            ThrowIfDisposed();
            long id = ++_lastLeaseId;
            _leases[id] = new LeaseState(rounded, _time.GetUtcNow() + rounded);
            return ValueTask.FromResult(new LeaseGrant(id, rounded));
        }
    }

    public ValueTask<bool> KeepAliveAsync(long leaseId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            var now = _time.GetUtcNow();
            if (!_leases.TryGetValue(leaseId, out var lease) || lease.ExpiresAt <= now)
            {
                return ValueTask.FromResult(false);
            }

            _leases[leaseId] = lease with { ExpiresAt = now + lease.Ttl };
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<bool> RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            bool live = _leases.TryGetValue(leaseId, out var lease) && lease.ExpiresAt > _time.GetUtcNow();
            Revoke(leaseId);
            return ValueTask.FromResult(live);
        }
    }

    public ValueTask CompactAsync(long revision, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            ArgumentOutOfRangeException.ThrowIfNegative(revision);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(revision, _revision);
            if (revision > _compacted)
            {
                _history.RemoveAll(e => e.Revision <= revision);
                _compacted = revision;
            }

            return ValueTask.CompletedTask;
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var subscription in _subscriptions)
            {
                subscription.End(new StateStoreException("The in-memory state store was disposed.", isTransient: false));
            }

            _subscriptions.Clear();
        }

        await _leaseTimer.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Like SQLite, this store keeps only the newest values: an older revision reads as compacted.</summary>
    private static void CheckReadRevision(long requested, long current)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(requested, current, nameof(requested));
        if (requested != 0 && requested < current)
        {
            throw new RevisionCompactedException(requested, current - 1);
        }
    }

    private IEnumerable<KeyValue> InRange(string prefix) =>
        _keys.Values.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal));

    private KeyValue Put(string key, ReadOnlyMemory<byte> value, long lease, long revision)
    {
        var current = _keys.GetValueOrDefault(key);
        var kv = new KeyValue(key, value.ToArray(), current?.CreateRevision ?? revision, revision, (current?.Version ?? 0) + 1, lease);
        _keys[key] = kv;
        _pending.Add(new WatchEvent(WatchEventType.Put, kv));
        return kv;
    }

    private void Delete(string key, long revision)
    {
        _keys.Remove(key);
        _pending.Add(new WatchEvent(WatchEventType.Delete, new KeyValue(key, ReadOnlyMemory<byte>.Empty, 0, revision, 0, 0)));
    }

    private void Revoke(long leaseId)
    {
        if (!_leases.Remove(leaseId))
        {
            return;
        }

        var attached = _keys.Values.Where(kv => kv.Lease == leaseId).Select(kv => kv.Key).ToList();
        if (attached.Count == 0)
        {
            return;
        }

        _revision++;
        foreach (string key in attached)
        {
            Delete(key, _revision);
        }

        Publish();
    }

    private void ExpireLeases()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            var now = _time.GetUtcNow();
            foreach (long leaseId in _leases.Where(l => l.Value.ExpiresAt <= now).OrderBy(l => l.Value.ExpiresAt).ThenBy(l => l.Key).Select(l => l.Key).ToList())
            {
                Revoke(leaseId);
            }
        }
    }

    private void ThrowIfLeaseMissing(long leaseId)
    {
        if (leaseId != 0 && !(_leases.TryGetValue(leaseId, out var lease) && lease.ExpiresAt > _time.GetUtcNow()))
        {
            throw new StateStoreException($"Lease {leaseId} does not exist: it expired, was revoked or was never granted.", isTransient: false);
        }
    }

    private void Publish()
    {
        _history.AddRange(_pending);
        _subscriptions.RemoveAll(subscription => !subscription.Offer(_pending));
        _pending.Clear();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private sealed record LeaseState(TimeSpan Ttl, DateTimeOffset ExpiresAt);

    private sealed class Subscription(string prefix, int capacity)
    {
        private readonly Channel<WatchEvent> _events = Channel.CreateBounded<WatchEvent>(new BoundedChannelOptions(capacity) { SingleReader = true });

        public ChannelReader<WatchEvent> Events => _events.Reader;

        public bool Offer(List<WatchEvent> events)
        {
            foreach (var change in events)
            {
                if (change.Kv.Key.StartsWith(prefix, StringComparison.Ordinal) && !_events.Writer.TryWrite(change))
                {
                    End(new StateStoreException($"The watch on '{prefix}' fell more than {capacity} events behind; watch again from the last revision received.", isTransient: true));
                    return false;
                }
            }

            return true;
        }

        public void End(Exception reason) => _events.Writer.TryComplete(reason);
    }

    /// <summary>Unicode code point order, which is the byte-wise order of UTF-8 the contract and SQLite use.</summary>
    private sealed class CodePointOrder : IComparer<string>
    {
        public static readonly CodePointOrder Instance = new();

        public int Compare(string? x, string? y)
        {
            if (x is null || y is null)
            {
                return x is null ? (y is null ? 0 : -1) : 1;
            }

            int common = x.AsSpan().CommonPrefixLength(y);
            if (common == x.Length || common == y.Length)
            {
                return x.Length.CompareTo(y.Length);
            }

            return Rank(x[common]).CompareTo(Rank(y[common]));
        }

        // UTF-16 surrogates (U+D800..U+DFFF) encode code points above U+FFFF, so they rank above U+E000..U+FFFF.
        private static int Rank(char c) => c switch
        {
            < '\uD800' => c,
            >= '\uE000' => c - 0x800,
            _ => c + 0x2000,
        };
    }
}
