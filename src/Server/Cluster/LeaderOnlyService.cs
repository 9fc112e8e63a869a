using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Cluster;

/// <summary>
/// Runs a singleton hosted service only while this replica leads: started when a term begins (with the term as the
/// <see cref="FencedStateStore.Scope"/> of its whole async flow, so its writes are fenced), stopped when the term ends
/// (its token is cancelled at once), started again on the next term.
/// </summary>
internal sealed partial class LeaderOnlyService(IHostedService singleton, LeaderElection election, ILogger<LeaderOnlyService> logger) : BackgroundService
{
    private readonly string _name = singleton.GetType().Name;

    /// <summary>The singleton's terms so far (tests).</summary>
    public int Starts { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await election.WaitForLeadershipAsync(stoppingToken).ConfigureAwait(false);
                if (election.CurrentTerm is not { } term)
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
        LogStarting(logger, _name, term.Number);
        try
        {
            await singleton.StartAsync(running.Token).ConfigureAwait(false);
            await Task.Delay(Timeout.InfiniteTimeSpan, running.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (running.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is StateStoreException or OperationCanceledException)
        {
            LogFailed(logger, _name, ex.Message);
        }
        finally
        {
            // Stopped in the term's scope: a final flush (the activity-log chainer's) is still fenced.
            try
            {
                using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await singleton.StopAsync(stopTimeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is StateStoreException or OperationCanceledException or ObjectDisposedException)
            {
                LogFailed(logger, _name, ex.Message);
            }

            if (singleton is BackgroundService { ExecuteTask: { IsFaulted: true } faulted })
            {
                LogFailed(logger, _name, faulted.Exception!.GetBaseException().Message);
            }

            FencedStateStore.Scope = null;
            LogStopped(logger, _name, term.Number);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Leader-only {Service} starting for term {Term}")]
    private static partial void LogStarting(ILogger logger, string service, long term);

    [LoggerMessage(Level = LogLevel.Information, Message = "Leader-only {Service} stopped (term {Term})")]
    private static partial void LogStopped(ILogger logger, string service, long term);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Leader-only {Service} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string service, string reason);
}
