using System.Collections.Concurrent;
using System.Net;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Audit;

/// <summary>
/// No acknowledged write without its record, and nothing chained twice: writers run against a real server that is
/// killed with SIGKILL mid-stream (records pending, batches half-chained); after a restart every acknowledged write
/// appears exactly once in the activity log, and the offline verifier finds the chain intact.
/// </summary>
public sealed class AuditDurabilityTests
{
    private const int Writers = 6;
    private const int AcknowledgedBeforeKill = 150;

    [Fact]
    public async Task KillNine_BetweenWriteAndChaining_LosesNoRecordAndChainsNoneTwice()
    {
        await using var server = await ServerProcess.StartAsync(null, "--throttle", "off", "--audit-checkpoint-every", "16");
        var credentials = server.Credentials;
        var subscription = credentials.SubscriptionId;
        using var http = await Clients.AuthenticatedHttpAsync(credentials);
        var acknowledged = new ConcurrentBag<string>();
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    var (status, correlation) = await ActivityLog.SendAsync(http, HttpMethod.Put, $"subscriptions/{subscription}/resourcegroups/audit-kill-{w}-{i}?api-version=2022-09-01", """{"location":"local"}""");
                    if (status == HttpStatusCode.Created)
                    {
                        acknowledged.Add(correlation);
                    }

                    if (acknowledged.Count >= AcknowledgedBeforeKill)
                    {
                        enough.TrySetResult();
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
                {
                    return;
                }
            }
        })).ToArray();

        await Task.WhenAny(enough.Task, Task.Delay(TimeSpan.FromSeconds(45)));
        Assert.True(enough.Task.IsCompleted, "writers made too little progress before the kill");
        server.Kill();
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        await server.StartAsync();
        using var after = await Clients.AuthenticatedHttpAsync(server.Credentials);
        var expected = acknowledged.ToHashSet();
        var events = await ActivityLog.WaitForAsync(after, ActivityLog.Url(subscription, ActivityLog.Filter()), e => expected.IsSubsetOf(e.Select(x => x["correlationId"]!.GetValue<string>())));
        var duplicates = events.GroupBy(e => e["correlationId"]!.GetValue<string>()).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(duplicates);

        server.Kill();
        var (exit, output) = await ServerProcess.RunToExitAsync("audit", "verify", "--data-dir", server.DataDirectory);
        Assert.True(exit == 0, output);
    }
}
