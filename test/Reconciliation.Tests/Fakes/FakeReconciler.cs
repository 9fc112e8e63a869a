using System.Threading.Channels;

namespace Holdfast.Reconciliation.Tests.Fakes;

/// <summary>
/// A reconciler whose behaviour a test scripts per call. Every call is reported on entry through
/// <see cref="NextCallAsync"/>, and the number of calls running at once for one key is tracked.
/// </summary>
internal sealed class FakeReconciler(Func<string, int, CancellationToken, Task<ReconcileResult>> behaviour) : IReconciler<string>
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _running = new(StringComparer.Ordinal);
    private readonly Channel<(string Key, int Attempt)> _calls = Channel.CreateUnbounded<(string Key, int Attempt)>();

    /// <summary>The most calls seen running at the same time for any single key.</summary>
    public int MaxConcurrentPerKey { get; private set; }

    public int Attempts(string key)
    {
        lock (_lock)
        {
            return _attempts.GetValueOrDefault(key);
        }
    }

    public async Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        int attempt;
        lock (_lock)
        {
            attempt = _attempts[key] = _attempts.GetValueOrDefault(key) + 1;
            var running = _running[key] = _running.GetValueOrDefault(key) + 1;
            MaxConcurrentPerKey = Math.Max(MaxConcurrentPerKey, running);
        }

        try
        {
            _calls.Writer.TryWrite((key, attempt));
            return await behaviour(key, attempt, cancellationToken);
        }
        finally
        {
            lock (_lock)
            {
                _running[key]--;
            }
        }
    }

    public async Task<(string Key, int Attempt)> NextCallAsync() => await _calls.Reader.ReadAsync().AsTask().WaitAsync(Signals.Timeout);
}
