using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Holdfast.Bench.Server;

/// <summary>
/// The real server as a child process: <c>dotnet holdfast.dll serve</c> on a fresh temporary data directory and a free
/// loopback port, with throttling off. It is ready when it prints its <c>holdfast ready:</c> line. Disposing kills the
/// process tree and deletes the data directory; a process-exit hook does the same if the tool itself is torn down.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private const string ReadyPrefix = "holdfast ready:";
    private const int KeptLines = 200;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lastLines = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _problemLines;
    private int _disposed;

    private ServerProcess(Process process, string dataDirectory, int port)
    {
        _process = process;
        DataDirectory = dataDirectory;
        Port = port;
    }

    public string DataDirectory { get; }

    public int Port { get; }

    /// <summary>The child's process id (printed, so a server orphaned by a SIGKILL of this tool can be found).</summary>
    public int ProcessId { get; private set; }

    /// <summary>Log lines at warning level or above the server printed so far (a sign that a number may be off).</summary>
    public int ProblemLines => Volatile.Read(ref _problemLines);

    public bool HasExited
    {
        get
        {
            try
            {
                return _process.HasExited;
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        }
    }

    /// <summary>CPU time the server process has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.HasExited ? TimeSpan.Zero : _process.TotalProcessorTime;
        }
    }

    /// <summary>Starts the server and waits (up to <paramref name="readyTimeout"/>) for its ready line.</summary>
    public static async Task<ServerProcess> StartAsync(
        string holdfastDll, IEnumerable<KeyValuePair<string, string>> environment, TimeSpan readyTimeout, CancellationToken cancellationToken, params string[] extraArguments)
    {
        var dataDirectory = Directory.CreateTempSubdirectory("holdfast-bench-server-").FullName;
        var port = FreeLoopbackPort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = dataDirectory,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        foreach (var argument in new[]
        {
            holdfastDll, "serve", "--data-dir", dataDirectory, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--listen", "127.0.0.1", "--throttle", "off", "--agent-port", "0",
        }.Concat(extraArguments))
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var server = new ServerProcess(process, dataDirectory, port);
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        process.Exited += (_, _) => server._ready.TrySetException(
            new SetupException($"The server exited with code {SafeExitCode(process)} before it was ready.{server.Tail()}"));
        try
        {
            if (!process.Start())
            {
                throw new SetupException("The server process did not start.");
            }

            server.ProcessId = process.Id;

            // Killed with the tool, however the tool ends (a second Ctrl-C, SIGTERM, an unhandled exception).
            AppDomain.CurrentDomain.ProcessExit += server.OnProcessExit;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await server._ready.Task.WaitAsync(readyTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new SetupException($"The server printed no '{ReadyPrefix}' line within {readyTimeout.TotalSeconds:0} s.{server.Tail()}");
            }

            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The server's last output lines, for a setup failure message.</summary>
    public string Tail()
    {
        var lines = _lastLines.ToArray();
        return lines.Length == 0 ? string.Empty : Environment.NewLine + "Server output (last lines):" + Environment.NewLine + string.Join(Environment.NewLine, lines);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        Kill();
        try
        {
            using var exitTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(exitTimeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"bench: the server (pid {SafeId(_process)}) did not exit within 10 s after kill: {ex.Message}").ConfigureAwait(false);
        }

        _process.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"bench: could not delete the server data directory '{DataDirectory}': {ex.Message}").ConfigureAwait(false);
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string SafeExitCode(Process process)
    {
        try
        {
            return process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }

    private static string SafeId(Process process)
    {
        try
        {
            return process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }

    private void OnProcessExit(object? sender, EventArgs e) => Kill();

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Not started, or already gone: nothing left to kill.
            Console.Error.WriteLine($"bench: killing the server: {ex.Message}");
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        _lastLines.Enqueue(line);
        while (_lastLines.Count > KeptLines && _lastLines.TryDequeue(out _))
        {
        }

        if (line.StartsWith(ReadyPrefix, StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
        else if (line.Contains(" warn: ", StringComparison.Ordinal) || line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _problemLines);
        }
    }
}
