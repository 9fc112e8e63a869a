using System.Reflection;
using System.Text.Json;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Cluster;

/// <summary>
/// Campaigns for <c>/cluster/leader</c> with a compare-absent put on this replica's store lease, renews the lease every
/// third of its TTL, and registers the replica (<c>/cluster/replicas/{id}</c>) on the same lease. Leadership ends when
/// the lease cannot be renewed within its TTL, when the leader key is no longer the one this replica created, or when a
/// fenced write finds it so; a stop revokes the lease, which deletes both keys at once so another replica takes over
/// without waiting for the TTL. Followers campaign again on every tick and as soon as they see the leader key deleted.
/// Once every leader-only service has started in a term, the leader rewrites its record with that time (fenced), so
/// the status endpoint of any replica reports when the term's singletons began running.
/// </summary>
public sealed partial class LeaderElection : BackgroundService, ILeadership
{
    private static readonly Compare NeverHolds = new(ClusterKeys.Leader, CompareTarget.CreateRevision, CompareOperator.Equal, -1);
    private readonly IStateStore _store;
    private readonly HoldfastServerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<LeaderElection> _logger;
    private readonly TimeSpan _ttl;
    private readonly TimeSpan _renewEvery;
    private readonly DateTimeOffset _startedAt;
    private readonly object _gate = new();
    private TaskCompletionSource _leaderChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LeaderTerm? _current;
    private long _lease;
    private DateTimeOffset _leaseConfirmedAt;
    private string? _registered;
    private int _leaderOnlyServices;

    public LeaderElection(IStateStore store, HoldfastServerOptions options, TimeProvider time, ILogger<LeaderElection> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _options = options;
        _time = time;
        _logger = logger;
        _ttl = TimeSpan.FromSeconds(options.LeaderLeaseSeconds);
        _renewEvery = _ttl / 3;
        _startedAt = time.GetUtcNow();
        ReplicaId = options.ResolvedReplicaId;
    }

    public string ReplicaId { get; }

    public bool IsLeader => _current is { Token.IsCancellationRequested: false };

    public long Term => _current is { Token.IsCancellationRequested: false } term ? term.Number : 0;

    public Compare Fence => Term is > 0 and var term ? ClusterKeys.Fence(term) : NeverHolds;

    public CancellationToken LeaderToken => _current?.Token ?? new CancellationToken(canceled: true);

    /// <summary>This replica's store lease (0 before the first grant); its registration and relayed heartbeats live on it.</summary>
    public long LeaseId => Interlocked.Read(ref _lease);

    /// <summary>Where this replica's agent listener is, once bound (written into its registration).</summary>
    public Uri? AgentEndpoint { get; set; }

    /// <summary>The current term, or null when not leader.</summary>
    internal LeaderTerm? CurrentTerm => _current is { Token.IsCancellationRequested: false } term ? term : null;

    public async Task WaitForLeadershipAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (IsLeader)
                {
                    return;
                }

                changed = _leaderChanged.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A leader-only service was created: a term's singletons have all started once this many have.</summary>
    internal void AddLeaderOnlyService() => Interlocked.Increment(ref _leaderOnlyServices);

    /// <summary>One leader-only service started in <paramref name="term"/>; the last one stamps the term and wakes the loop to publish it.</summary>
    internal void SingletonStarted(LeaderTerm term)
    {
        if (term.SingletonStarted() == Volatile.Read(ref _leaderOnlyServices))
        {
            term.SingletonsStartedAt = _time.GetUtcNow();
            Wake();
        }
    }

    /// <summary>Ends <paramref name="term"/> if it is still this replica's (a fenced write found the leader key changed).</summary>
    internal void StepDown(long term, string reason)
    {
        LeaderTerm? ended;
        lock (_gate)
        {
            ended = _current;
            if (ended is null || (term != 0 && ended.Number != term))
            {
                return;
            }

            _current = null;
        }

        LogSteppedDown(_logger, ReplicaId, ended.Number, reason);
        ended.End();
        Wake();
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        var lease = Interlocked.Exchange(ref _lease, 0);
        if (lease == 0)
        {
            return;
        }

        // Revoking deletes the leader key and the registration now: a clean stop hands over at once.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_ttl);
        try
        {
            await _store.RevokeLeaseAsync(lease, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StateStoreException or OperationCanceledException or ObjectDisposedException)
        {
            LogRevokeFailed(_logger, ex.Message);
        }
    }

    public override void Dispose()
    {
        _current?.End();
        _current?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var watch = WatchLeaderAsync(stoppingToken);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var again = false;
                using (var tick = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
                {
                    tick.CancelAfter(_renewEvery * 2);
                    try
                    {
                        again = await TickAsync(tick.Token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is StateStoreException || (ex is OperationCanceledException && !stoppingToken.IsCancellationRequested))
                    {
                        LogStoreFailed(_logger, ex.Message);
                    }
                }

                if (_current is { } term && _time.GetUtcNow() - _leaseConfirmedAt >= _ttl)
                {
                    StepDown(term.Number, "its lease could not be renewed within its TTL");
                }

                if (!again)
                {
                    await SleepAsync(stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            StepDown(0, "the replica is stopping");
            await watch.ConfigureAwait(false);
        }
    }

    /// <summary>One renewal (or grant) and one campaign or check; true to run again at once.</summary>
    private async Task<bool> TickAsync(CancellationToken cancellationToken)
    {
        var sent = _time.GetUtcNow();
        if (LeaseId == 0)
        {
            var grant = await _store.GrantLeaseAsync(_ttl, cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _lease, grant.Id);
            _registered = null;
        }
        else if (!await _store.KeepAliveAsync(LeaseId, cancellationToken).ConfigureAwait(false))
        {
            StepDown(0, "its lease expired");
            Interlocked.Exchange(ref _lease, 0);
            return true;
        }

        _leaseConfirmedAt = sent;
        await RegisterAsync(cancellationToken).ConfigureAwait(false);
        if (_current is { } term)
        {
            var holder = await _store.GetAsync(ClusterKeys.Leader, cancellationToken).ConfigureAwait(false);
            if (holder?.CreateRevision != term.Number)
            {
                StepDown(term.Number, "the leader key is no longer the one it created");
                return true;
            }

            if (term.SingletonsStartedAt is { } startedAt && !term.Published)
            {
                return await PublishStartedAsync(term, startedAt, holder.Lease, cancellationToken).ConfigureAwait(false);
            }

            return false;
        }

        return await CampaignAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> CampaignAsync(CancellationToken cancellationToken)
    {
        var record = new LeaderRecord(ReplicaId, _options.ResolvedEndpoint.ToString(), _time.GetUtcNow());
        var result = await _store.TxnAsync(
            new TxnRequest(
                [Compare.Absent(ClusterKeys.Leader)],
                [TxnOp.Put(ClusterKeys.Leader, JsonSerializer.SerializeToUtf8Bytes(record, ClusterJson.Default.LeaderRecord), LeaseId)],
                [TxnOp.Get(ClusterKeys.Leader)]),
            cancellationToken).ConfigureAwait(false);
        if (result.Succeeded)
        {
            Become(result.Revision, record);
            return false;
        }

        if (result.Results[0].Kvs is not [var holder, ..])
        {
            return true;
        }

        if (holder.Lease == LeaseId)
        {
            // This replica's own campaign committed but its answer was lost (a timeout): the term is ours.
            Become(holder.CreateRevision, ReadLeader(holder) ?? record);
            return false;
        }

        if (ReadLeader(holder)?.Replica == ReplicaId)
        {
            // Left by an earlier run of this replica (killed, its lease not yet expired): take it over now. Its
            // singletons are gone; had two live replicas the same id, fencing would still refuse the loser's writes.
            var deleted = await _store.DeleteAsync(ClusterKeys.Leader, holder.ModRevision, cancellationToken).ConfigureAwait(false);
            if (deleted.Succeeded)
            {
                LogTookOver(_logger, ReplicaId, holder.CreateRevision);
                return true;
            }
        }

        return false;
    }

    /// <summary>Rewrites the leader record with when the term's singletons started, fenced by the term; true to tick again.</summary>
    private async Task<bool> PublishStartedAsync(LeaderTerm term, DateTimeOffset startedAt, long lease, CancellationToken cancellationToken)
    {
        var record = JsonSerializer.SerializeToUtf8Bytes(term.Record with { SingletonsStartedAt = startedAt }, ClusterJson.Default.LeaderRecord);
        var result = await _store.TxnAsync(new TxnRequest([term.Fence], [TxnOp.Put(ClusterKeys.Leader, record, lease)]), cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            StepDown(term.Number, "the leader key is no longer the one it created");
            return true;
        }

        term.Published = true;
        LogSingletonsStarted(_logger, ReplicaId, term.Number, (startedAt - term.Record.ElectedAt).TotalMilliseconds);
        return false;
    }

    private void Become(long term, LeaderRecord record)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (_current?.Number == term)
            {
                return;
            }

            _current?.End();
            _current = new LeaderTerm(term, record, this);
            changed = _leaderChanged;
            _leaderChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        LogElected(_logger, ReplicaId, term);
        changed.TrySetResult();
    }

    private async Task RegisterAsync(CancellationToken cancellationToken)
    {
        var record = new ReplicaRecord(ReplicaId, _options.ResolvedEndpoint.ToString(), AgentEndpoint?.ToString(), Version, _startedAt);
        var json = JsonSerializer.Serialize(record, ClusterJson.Default.ReplicaRecord);
        if (json == _registered)
        {
            return;
        }

        await _store.PutAsync(ClusterKeys.Replica(ReplicaId), System.Text.Encoding.UTF8.GetBytes(json), null, cancellationToken, LeaseId).ConfigureAwait(false);
        _registered = json;
    }

    /// <summary>Wakes the campaign when the leader key goes (a clean stop or an expired lease) or changes under a leader.</summary>
    private async Task WatchLeaderAsync(CancellationToken cancellationToken)
    {
        long after = -1;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (after < 0)
                {
                    after = await _store.GetRevisionAsync(cancellationToken).ConfigureAwait(false);
                }

                await foreach (var change in _store.WatchAsync(ClusterKeys.Leader, after, cancellationToken).ConfigureAwait(false))
                {
                    after = change.Revision;
                    if (change.Kv.Key != ClusterKeys.Leader)
                    {
                        continue;
                    }

                    if (change.Type == WatchEventType.Delete)
                    {
                        if (_current is { } term)
                        {
                            StepDown(term.Number, "the leader key was deleted");
                        }

                        Wake();
                    }
                    else if (_current is { } term && change.Kv.CreateRevision != term.Number)
                    {
                        StepDown(term.Number, "another replica holds the leader key");
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RevisionCompactedException)
            {
                after = -1;
            }
            catch (Exception ex) when (ex is StateStoreException or ObjectDisposedException)
            {
                LogStoreFailed(_logger, ex.Message);
                try
                {
                    await Task.Delay(_renewEvery, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private void Wake() => Volatile.Read(ref _wake).TrySetResult();

    /// <summary>Until the next tick or a wake; a wake during a tick is kept, so the sleep after it ends at once.</summary>
    private async Task SleepAsync(CancellationToken cancellationToken)
    {
        var wake = Volatile.Read(ref _wake);
        using var delay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sleeping = Task.Delay(_renewEvery, _time, delay.Token);
        await Task.WhenAny(sleeping, wake.Task).ConfigureAwait(false);
        await delay.CancelAsync().ConfigureAwait(false);
        if (wake.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), wake);
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    private static LeaderRecord? ReadLeader(KeyValue kv)
    {
        try
        {
            return JsonSerializer.Deserialize(kv.Value.Span, ClusterJson.Default.LeaderRecord);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Version { get; } =
        typeof(LeaderElection).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {ReplicaId} is leader for term {Term}")]
    private static partial void LogElected(ILogger logger, string replicaId, long term);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {ReplicaId}: every leader-only service started in term {Term}, {Milliseconds} ms after the election")]
    private static partial void LogSingletonsStarted(ILogger logger, string replicaId, long term, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {ReplicaId} is no longer leader (term {Term}): {Reason}")]
    private static partial void LogSteppedDown(ILogger logger, string replicaId, long term, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {ReplicaId} removed the leader key its earlier run left (term {Term})")]
    private static partial void LogTookOver(ILogger logger, string replicaId, long term);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Leader election: the store failed: {Reason}")]
    private static partial void LogStoreFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Leader election: the lease could not be revoked on stop: {Reason}")]
    private static partial void LogRevokeFailed(ILogger logger, string reason);
}

/// <summary>One term of this replica's leadership: its number (the fence), its record, and a token cancelled when it ends.</summary>
internal sealed class LeaderTerm(long number, LeaderRecord record, LeaderElection election) : IDisposable
{
    private readonly CancellationTokenSource _ended = new();
    private int _singletonsStarted;

    public long Number { get; } = number;

    /// <summary>The leader record this term was won with.</summary>
    public LeaderRecord Record { get; } = record;

    /// <summary>When the last of this term's leader-only services started; null until then.</summary>
    public DateTimeOffset? SingletonsStartedAt { get; set; }

    /// <summary>The leader record carries <see cref="SingletonsStartedAt"/>.</summary>
    public bool Published { get; set; }

    public Compare Fence { get; } = ClusterKeys.Fence(number);

    public CancellationToken Token => _ended.Token;

    /// <summary>A leader-only service started in this term (<see cref="LeaderOnlyService"/>).</summary>
    public void Started() => election.SingletonStarted(this);

    /// <summary>How many of this term's leader-only services have started, this one included.</summary>
    internal int SingletonStarted() => Interlocked.Increment(ref _singletonsStarted);

    /// <summary>A fenced write failed its fence: this term is over.</summary>
    public void Lost() => election.StepDown(Number, "a fenced write found the leader key changed");

    /// <summary>Only at shutdown: an ended term's token stays readable (singletons link to it).</summary>
    public void Dispose() => _ended.Dispose();

    internal void End()
    {
        try
        {
            _ended.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
