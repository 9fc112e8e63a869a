using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;

namespace Holdfast.Server.IntegrationTests.Infrastructure;

/// <summary>The credentials file a started server wrote (admin-credentials.json).</summary>
public sealed record ServerCredentials(string TenantId, string ClientId, string ClientSecret, string ObjectId, string SubscriptionId, Uri Endpoint, string Audience, string CaCertificatePath);

/// <summary>
/// A real <c>holdfast serve</c> process on 127.0.0.1 and a free port, over TLS, on a temp data directory. Started
/// and restarted like an operator would; <see cref="Kill"/> is kill -9.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    /// <summary>
    /// The cluster token every process started here gets in <c>HOLDFAST_CLUSTER_TOKEN</c> unless the test sets its own
    /// (servers on etcd need one; SQLite ones ignore it).
    /// </summary>
    public const string TestClusterToken = "holdfast-integration-tests-cluster-token";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly List<string> _output = [];
    private Process? _process;
    private IReadOnlyDictionary<string, string?>? _environment;

    private ServerProcess(string dataDirectory, int port, string[] extraArguments)
    {
        DataDirectory = dataDirectory;
        Port = port;
        AgentPort = extraArguments.Contains("--agent-port") ? int.Parse(extraArguments[Array.IndexOf(extraArguments, "--agent-port") + 1], System.Globalization.CultureInfo.InvariantCulture) : FreePort();
        ExtraArguments = extraArguments.Contains("--agent-port") ? extraArguments : [.. extraArguments, "--agent-port", AgentPort.ToString(System.Globalization.CultureInfo.InvariantCulture)];
    }

    public string DataDirectory { get; }

    public int Port { get; }

    /// <summary>The port host agents call (a free one, so servers started side by side do not share 8444).</summary>
    public int AgentPort { get; }

    public string[] ExtraArguments { get; }

    public ServerCredentials Credentials { get; private set; } = null!;

    /// <summary>The agent listener as the server printed it (<c>--agent-port 0</c> unless the test passed one).</summary>
    public Uri? AgentEndpoint { get; private set; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    public static async Task<ServerProcess> StartAsync(string? dataDirectory = null, params string[] extraArguments)
    {
        var server = new ServerProcess(dataDirectory ?? NewDataDirectory(), FreePort(), extraArguments);
        await server.StartAsync().ConfigureAwait(false);
        return server;
    }

    /// <summary>As <see cref="StartAsync(string?, string[])"/> with environment variables set (a null value removes one).</summary>
    public static async Task<ServerProcess> StartAsync(string? dataDirectory, IReadOnlyDictionary<string, string?> environment, params string[] extraArguments)
    {
        var server = new ServerProcess(dataDirectory ?? NewDataDirectory(), FreePort(), extraArguments) { _environment = environment };
        await server.StartAsync().ConfigureAwait(false);
        return server;
    }

    public static string NewDataDirectory() => Path.Combine(Path.GetTempPath(), "holdfast-it-" + Guid.NewGuid().ToString("N")[..12]);

    public async Task StartAsync()
    {
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Parallel servers must not all take the default agent port: a free one unless the test chose.
        string[] agentPort = ExtraArguments.Contains("--agent-port") ? [] : ["--agent-port", "0"];
        var process = StartHoldfast(["serve", "--data-dir", DataDirectory, "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--listen", "127.0.0.1", .. agentPort, .. ExtraArguments], line =>
        {
            lock (_output)
            {
                _output.Add(line);
            }

            if (line.StartsWith("holdfast agent port: ", StringComparison.Ordinal))
            {
                AgentEndpoint = new Uri(line["holdfast agent port: ".Length..].Split(' ')[0]);
            }

            if (line.StartsWith("holdfast ready:", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }, _environment);
        _process = process;
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(ready.Task, exited, Task.Delay(StartTimeout)).ConfigureAwait(false);
        if (first != ready.Task)
        {
            Kill();
            throw new InvalidOperationException($"holdfast serve did not become ready (exited: {process.HasExited}). Output:\n{Output}");
        }

        Credentials = LoadCredentials(Path.Combine(DataDirectory, "admin-credentials.json"));
    }

    /// <summary>SIGKILL: no shutdown hooks, no flushing — what a power cut or OOM kill looks like to the store.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(30_000);
        }
    }

    /// <summary>SIGTERM, as systemd stops a service: the server shuts down gracefully; waits until it has exited.</summary>
    public async Task StopGracefullyAsync()
    {
        if (_process is { HasExited: false } process)
        {
            using (var signal = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await signal.WaitForExitAsync().ConfigureAwait(false);
            }

            using var timeout = new CancellationTokenSource(StartTimeout);
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        _process?.Dispose();
        await Task.Yield();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless.
        }
    }

    public static ServerCredentials LoadCredentials(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var root = document.RootElement;
        string S(string name) => root.GetProperty(name).GetString()!;
        return new ServerCredentials(S("tenantId"), S("clientId"), S("clientSecret"), S("objectId"), S("subscriptionId"), new Uri(S("endpoint")), S("audience"), S("caCertificatePath"));
    }

    /// <summary>Runs <c>holdfast</c> to completion (for flag and start-up error tests).</summary>
    public static Task<(int ExitCode, string Output)> RunToExitAsync(params string[] arguments) => RunToExitAsync(null, arguments);

    /// <summary>As <see cref="RunToExitAsync(string[])"/> with environment variables set (a null value removes one).</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(IReadOnlyDictionary<string, string?>? environment, params string[] arguments)
    {
        var lines = new List<string>();
        using var process = StartHoldfast(arguments, line =>
        {
            lock (lines)
            {
                lines.Add(line);
            }
        }, environment);
        using var timeout = new CancellationTokenSource(StartTimeout);
        await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        lock (lines)
        {
            return (process.ExitCode, string.Join('\n', lines));
        }
    }

    internal static Process StartHoldfast(string[] arguments, Action<string> onLine, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["HOLDFAST_CLUSTER_TOKEN"] = TestClusterToken;
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        info.ArgumentList.Add(HoldfastDll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                onLine(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                onLine(e.Data);
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static string HoldfastDll
    {
        get
        {
            var configuration = typeof(ServerProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Holdfast.slnx")))
            {
                directory = directory.Parent;
            }

            if (directory is null)
            {
                throw new InvalidOperationException("Cannot find the repository root (Holdfast.slnx) above " + AppContext.BaseDirectory);
            }

            var path = Path.Combine(directory.FullName, "src", "Holdfast", "bin", configuration, "net10.0", "holdfast.dll");
            return File.Exists(path) ? path : throw new InvalidOperationException($"holdfast.dll is not built at '{path}'.");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
