using System.Diagnostics;
using System.Text.Json;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Agents;

/// <summary>One VM as a simulated agent's driver keeps it in its state directory's <c>vms.json</c>.</summary>
public sealed record SimulatedVm(string Id, string PowerState, long Epoch);

/// <summary>
/// A real <c>holdfast agent</c> process with the simulated driver (simulated hardware), its own state directory, on
/// the server's agent port. <see cref="Kill"/> is kill -9; <see cref="RestartAsync"/> starts it again on the same
/// state directory without a token, as an operator would after a crash.
/// </summary>
public sealed class AgentProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly List<string> _output = [];
    private readonly string[] _arguments;
    private Process? _process;

    private AgentProcess(ServerProcess server, string hostName, string stateDirectory, string[] arguments)
    {
        Server = server;
        HostName = hostName;
        StateDirectory = stateDirectory;
        _arguments = arguments;
    }

    public ServerProcess Server { get; }

    public string HostName { get; }

    public string StateDirectory { get; }

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

    public bool HasExited => _process?.HasExited ?? true;

    /// <summary>Starts an agent that joins with <paramref name="joinToken"/> and waits until it has joined.</summary>
    public static async Task<AgentProcess> StartAsync(ServerProcess server, string hostName, string joinToken, params string[] extraArguments)
    {
        var agent = new AgentProcess(server, hostName, Path.Combine(server.DataDirectory + "-agents", hostName), extraArguments);
        await agent.StartProcessAsync(joinToken).ConfigureAwait(false);
        return agent;
    }

    /// <summary>kill -9: no shutdown, no goodbye; the server only notices the silence.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(30_000);
        }
    }

    /// <summary>Kills the process if running and starts it again on its state directory, with no token.</summary>
    public async Task RestartAsync()
    {
        Kill();
        _process?.Dispose();
        await StartProcessAsync(null).ConfigureAwait(false);
    }

    /// <summary>The VMs the simulated driver holds, read from its file.</summary>
    public async Task<IReadOnlyList<SimulatedVm>> ReadVmsAsync()
    {
        var path = Path.Combine(StateDirectory, "vms.json");
        if (!File.Exists(path))
        {
            return [];
        }

        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(path).ConfigureAwait(false));
        return [.. document.RootElement.EnumerateArray().Select(vm => new SimulatedVm(vm.GetProperty("id").GetString()!, vm.GetProperty("powerState").GetString()!, vm.GetProperty("epoch").GetInt64()))];
    }

    /// <summary>Waits (bounded) until the agent printed a line containing <paramref name="text"/>.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (cancel.IsCancellationRequested)
            {
                throw new TimeoutException($"The agent of {HostName} did not print '{text}' within {timeout}. Output:\n{Output}");
            }

            await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        _process?.Dispose();
        await Task.Yield();
        try
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless.
        }
    }

    private async Task StartProcessAsync(string? joinToken)
    {
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        string[] token = joinToken is null ? [] : ["--join-token", joinToken];
        string[] driver = _arguments.Contains("--driver") ? [] : ["--driver", "simulated"];
        var process = ServerProcess.StartHoldfast(
            ["agent", "--server", Server.AgentEndpoint!.ToString(), "--host-name", HostName, .. token, "--ca-file", Server.Credentials.CaCertificatePath, "--state-dir", StateDirectory, .. driver, .. _arguments],
            line =>
            {
                lock (_output)
                {
                    _output.Add(line);
                }

                if (line.StartsWith("holdfast agent ready:", StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
            });
        _process = process;
        var first = await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(StartTimeout)).ConfigureAwait(false);
        if (first != ready.Task)
        {
            Kill();
            throw new InvalidOperationException($"holdfast agent for {HostName} did not become ready (exited: {process.HasExited}). Output:\n{Output}");
        }
    }
}
