using System.Diagnostics;
using System.Globalization;

namespace Holdfast.Commands.Cluster;

/// <summary>
/// One child of <c>cluster up</c>: its output goes to <c>logs/{name}.log</c>; a watchdog (<c>/bin/sh</c>, polling
/// once a second) sends it SIGTERM, then SIGKILL, if this process disappears while the child still runs — Linux has
/// no portable "die with the parent" for a process .NET starts, and the watchdog outlives a kill -9 of this one.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private const string WatchdogScript =
        "while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; do sleep 1; done; "
        + "if kill -0 \"$2\" 2>/dev/null; then kill -TERM \"$2\"; i=0; "
        + "while [ $i -lt 10 ] && kill -0 \"$2\" 2>/dev/null; do sleep 1; i=$((i+1)); done; kill -KILL \"$2\" 2>/dev/null; fi";

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Func<string, bool>? _readyLine;
    private volatile bool _stopping;
    private bool _logClosed;

    private ChildProcess(string name, string logPath, Process process, StreamWriter log, Func<string, bool>? readyLine)
    {
        Name = name;
        LogPath = logPath;
        _process = process;
        _log = log;
        _readyLine = readyLine;
    }

    public string Name { get; }

    public string LogPath { get; }

    public static ChildProcess Start(string name, string fileName, IEnumerable<string> arguments, string logDirectory, Func<string, bool>? readyLine, TextWriter output)
    {
        var logPath = Path.Combine(logDirectory, name + ".log");
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(name, logPath, process, log, readyLine);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        process.Exited += (_, _) => child.OnExited(output);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            log.Dispose();
            process.Dispose();
            throw new ClusterStartException($"cannot start {name} ({fileName}): {ex.Message}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        StartWatchdog(process.Id);
        if (readyLine is null)
        {
            child._ready.TrySetResult();
        }

        return child;
    }

    public async Task WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _ready.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new ClusterStartException($"{Name} was not ready within {timeout.TotalSeconds:0} s; see {LogPath}.");
        }
    }

    public void ThrowIfExited()
    {
        if (_process.HasExited)
        {
            throw new ClusterStartException($"{Name} exited with code {_process.ExitCode} while starting; see {LogPath}.");
        }
    }

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/>; returns once the child is gone.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _stopping = true;
        if (_process.HasExited)
        {
            return;
        }

        try
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync().ConfigureAwait(false);
            }

            using var timeout = new CancellationTokenSource(grace);
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public void Dispose()
    {
        _process.Dispose();
        lock (_log)
        {
            _logClosed = true;
            _log.Dispose();
        }
    }

    private static void StartWatchdog(int childId)
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var argument in new[] { "-c", WatchdogScript, "holdfast-watchdog", Environment.ProcessId.ToString(CultureInfo.InvariantCulture), childId.ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(argument);
        }

        // It ends by itself once the child has gone.
        using var watchdog = Process.Start(info);
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            if (!_logClosed)
            {
                _log.WriteLine(line);
            }
        }

        if (_readyLine is not null && _readyLine(line))
        {
            _ready.TrySetResult();
        }
    }

    private void OnExited(TextWriter output)
    {
        var exited = new ClusterStartException($"{Name} exited with code {_process.ExitCode}; see {LogPath}.");
        if (_ready.TrySetException(exited) || _stopping)
        {
            return;
        }

        output.WriteLine($"holdfast cluster: {Name} exited with code {_process.ExitCode}; the others keep running (log {LogPath}).");
    }
}
