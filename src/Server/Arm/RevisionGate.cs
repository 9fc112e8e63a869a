namespace Holdfast.Server.Arm;

/// <summary>
/// How far a watched in-memory view has applied the store, and a wait for a given revision: a writer that committed
/// at revision R waits for the view to reach R before answering, so its caller's next request sees the write.
/// </summary>
internal sealed class RevisionGate
{
    private readonly List<(long Revision, TaskCompletionSource Done)> _waiters = [];
    private long _revision;

    public long Revision => Volatile.Read(ref _revision);

    public Task WaitForAsync(long revision, CancellationToken cancellationToken)
    {
        lock (_waiters)
        {
            if (_revision >= revision)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((revision, done));
            return done.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>The view has applied everything up to <paramref name="revision"/>.</summary>
    public void Advance(long revision)
    {
        lock (_waiters)
        {
            if (revision <= _revision)
            {
                return;
            }

            Volatile.Write(ref _revision, revision);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Revision <= revision)
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}
