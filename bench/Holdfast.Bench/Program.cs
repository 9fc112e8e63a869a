using System.Runtime.InteropServices;
using Holdfast.Bench;

// Exit codes: 0 the run completed (whether or not the targets were met), 1 setup failure or the time budget ran out,
// 2 bad arguments, 130 interrupted. The server child is killed on every path (see ServerProcess).
var options = BenchOptions.Parse(args, out var error);
if (options is null)
{
    await Console.Error.WriteLineAsync("bench: " + error);
    await Console.Error.WriteLineAsync(BenchOptions.Usage);
    return 2;
}

if (options.Help)
{
    await Console.Out.WriteLineAsync(BenchOptions.Usage);
    return 0;
}

using var interrupted = new CancellationTokenSource();
using var budget = new CancellationTokenSource(BenchRun.Budget(options));
using var stop = CancellationTokenSource.CreateLinkedTokenSource(interrupted.Token, budget.Token);
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl-C unwinds (and kills the server); a second one ends the process at once.
    e.Cancel = !interrupted.IsCancellationRequested;
    interrupted.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    interrupted.Cancel();
});

try
{
    await BenchRun.RunAsync(options, stop.Token);
    return 0;
}
catch (SetupException ex)
{
    await Console.Error.WriteLineAsync("bench: setup failed: " + ex.Message);
    return 1;
}
catch (Exception) when (interrupted.IsCancellationRequested)
{
    await Console.Error.WriteLineAsync("bench: interrupted; the server was stopped.");
    return 130;
}
catch (Exception) when (budget.IsCancellationRequested)
{
    await Console.Error.WriteLineAsync($"bench: the run exceeded its time budget of {BenchRun.Budget(options).TotalSeconds:0} s and was stopped.");
    return 1;
}
