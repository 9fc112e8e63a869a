using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Cluster;

/// <summary>
/// Runs a singleton hosted service only while this replica leads: started when a term begins (with the term as the
/// <see cref="FencedStateStore.Scope"/> of its whole async flow, so its writes are fenced), stopped when the term ends
/// (its token is cancelled at once), started again on the next term. Each start is counted in the term, so the leader
/// record says when all of them had started (<see cref="LeaderElection.SingletonStarted"/>).
/// </summary>
internal sealed partial class LeaderOnlyService : BackgroundService
{
    private readonly IHostedService _singleton;
    private readonly LeaderElection _election;
    private readonly ILogger<LeaderOnlyService> _logger;
    private readonly string _name;

    public LeaderOnlyService(IHostedService singleton, LeaderElection election, ILogger<LeaderOnlyService> logger)
    {
        ArgumentNullException.ThrowIfNull(singleton);
        ArgumentNullException.ThrowIfNull(election);
        _singleton = singleton;
        _election = election;
        _logger = logger;
        _name = singleton.GetType().Name;
        election.AddLeaderOnlyService();
    }

    /// <summary>The singleton's terms so far (tests).</summary>
    public int Starts { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await _election.WaitForLeadershipAsync(stoppingToken).ConfigureAwait(false);
                if (_election.CurrentTerm is not { } term)
                {
                    continue;
                }

                await RunTermAsync(term, stoppingToken).ConfigureAwait(false);

                // Never twice in one term (a singleton that failed to start waits for the next one).
                using var either = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, term.Token);
                try
                {
                    await Task.Delay(Timeout.InfiniteTimeSpan, either.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (term.Token.IsCancellationRequested)
                {
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RunTermAsync(LeaderTerm term, CancellationToken stoppingToken)
    {
        using var running = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, term.Token);
        FencedStateStore.Scope = term;
        Starts++;
        LogStarting(_logger, _name, term.Number);
        try
        {
            await _singleton.StartAsync(running.Token).ConfigureAwait(false);
            term.Started();
            await Task.Delay(Timeout.InfiniteTimeSpan, running.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (running.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is StateStoreException or OperationCanceledException)
        {
            LogFailed(_logger, _name, ex.Message);
        }
        finally
        {
            // Stopped in the term's scope: a final flush (the activity-log chainer's) is still fenced.
            try
            {
                using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _singleton.StopAsync(stopTimeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is StateStoreException or OperationCanceledException or ObjectDisposedException)
            {
                LogFailed(_logger, _name, ex.Message);
            }

            if (_singleton is BackgroundService { ExecuteTask: { IsFaulted: true } faulted })
            {
                LogFailed(_logger, _name, faulted.Exception!.GetBaseException().Message);
            }

            FencedStateStore.Scope = null;
            LogStopped(_logger, _name, term.Number);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Leader-only {Service} starting for term {Term}")]
    private static partial void LogStarting(ILogger logger, string service, long term);

    [LoggerMessage(Level = LogLevel.Information, Message = "Leader-only {Service} stopped (term {Term})")]
    private static partial void LogStopped(ILogger logger, string service, long term);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Leader-only {Service} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string service, string reason);
}
