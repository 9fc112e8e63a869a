using System.Diagnostics;
using System.Text;

namespace Holdfast.Server.HaTests.Infrastructure;

/// <summary>
/// Network namespaces for partition tests (shared/reference/store-baselines.md §7): one namespace per role, each with one
/// veth into a bridge that lives in a namespace of its own, addresses from 198.18.1.0/24 (the RFC 2544 benchmarking
/// range, which no real host uses). Nothing is reachable from the root namespace and nothing here routes out of the
/// machine: traffic flows only between these namespaces. <see cref="Cut"/> takes a role's bridge port down (both
/// directions at once); <see cref="Heal"/> brings it back. Disposing (or the test process exiting) kills every process
/// started here and deletes every namespace, which removes the veths and the bridge with them. Needs root and iproute2.
/// </summary>
public sealed class NetnsLab : IAsyncDisposable
{
    private static readonly List<NetnsLab> Open = [];
    private readonly string _id = "hf" + Guid.NewGuid().ToString("N")[..4];
    private readonly List<string> _roles;
    private readonly List<Process> _processes = [];
    private int _disposed;

    static NetnsLab() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        NetnsLab[] left;
        lock (Open)
        {
            left = [.. Open];
        }

        foreach (var lab in left)
        {
            lab.Teardown();
        }
    };

    private NetnsLab(IEnumerable<string> roles) => _roles = [.. roles];

    /// <summary>Creates a namespace per role (single lower-case letters) joined by one bridge.</summary>
    public static NetnsLab Create(params string[] roles)
    {
        if (roles.Any(r => r.Length != 1 || !char.IsAsciiLetterLower(r[0])))
        {
            throw new ArgumentException("Roles are single lower-case letters (interface names are at most 15 characters).", nameof(roles));
        }

        var lab = new NetnsLab(roles);
        lock (Open)
        {
            Open.Add(lab);
        }

        try
        {
            string sw = lab.Namespace("w");
            Ip("netns", "add", sw);
            Ip("-n", sw, "link", "add", lab._id + "br", "type", "bridge");
            Ip("-n", sw, "link", "set", lab._id + "br", "up");
            foreach (string role in roles)
            {
                string ns = lab.Namespace(role);
                Ip("netns", "add", ns);
                Ip("link", "add", lab.Port(role), "type", "veth", "peer", "name", lab._id + role + "1");
                Ip("link", "set", lab.Port(role), "netns", sw);
                Ip("link", "set", lab._id + role + "1", "netns", ns);
                Ip("-n", sw, "link", "set", lab.Port(role), "master", lab._id + "br");
                Ip("-n", sw, "link", "set", lab.Port(role), "up");
                Ip("-n", ns, "addr", "add", lab.Address(role) + "/24", "dev", lab._id + role + "1");
                Ip("-n", ns, "link", "set", lab._id + role + "1", "up");
                Ip("-n", ns, "link", "set", "lo", "up");
            }

            return lab;
        }
        catch
        {
            lab.Teardown();
            throw;
        }
    }

    /// <summary>The address of <paramref name="role"/> on the bridge (198.18.1.1 for the first role, and so on).</summary>
    public string Address(string role) => $"198.18.1.{_roles.IndexOf(role) + 1}";

    public string Namespace(string role) => _id + role;

    /// <summary>Cuts <paramref name="role"/> off from every other namespace (its bridge port goes down).</summary>
    public void Cut(string role) => Ip("-n", Namespace("w"), "link", "set", Port(role), "down");

    public void Heal(string role) => Ip("-n", Namespace("w"), "link", "set", Port(role), "up");

    /// <summary>Starts <paramref name="file"/> inside <paramref name="role"/>'s namespace; every output line goes to <paramref name="onLine"/>.</summary>
    public Process Start(string role, string file, IEnumerable<string> arguments, Action<string> onLine)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in new[] { "netns", "exec", Namespace(role), file }.Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { onLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { onLine(e.Data); } };
        process.Start();
        lock (_processes)
        {
            _processes.Add(process);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Runs a command inside <paramref name="role"/>'s namespace to completion (bounded); returns its exit code and output.</summary>
    public async Task<(int ExitCode, string Output)> RunAsync(string role, string file, params string[] arguments)
    {
        var output = new StringBuilder();
        using var process = Start(role, file, arguments, line =>
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            return (-1, "timed out");
        }
        finally
        {
            lock (_processes)
            {
                _processes.Remove(process);
            }
        }

        lock (output)
        {
            return (process.ExitCode, output.ToString());
        }
    }

    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public ValueTask DisposeAsync()
    {
        Teardown();
        return ValueTask.CompletedTask;
    }

    private void Teardown()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Process[] processes;
        lock (_processes)
        {
            processes = [.. _processes];
        }

        foreach (var process in processes)
        {
            Kill(process);
        }

        foreach (string ns in _roles.Select(Namespace).Append(Namespace("w")))
        {
            TryIp("netns", "del", ns);
        }

        lock (Open)
        {
            Open.Remove(this);
        }
    }

    private string Port(string role) => _id + role + "0";

    private static void Ip(params string[] arguments)
    {
        var (code, output) = RunIp(arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed ({code}): {output}");
        }
    }

    private static void TryIp(params string[] arguments) => RunIp(arguments);

    private static (int ExitCode, string Output) RunIp(string[] arguments)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        // ip prints a line or two at most, so reading one stream after the other cannot fill a pipe.
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(10_000))
        {
            Kill(process);
            return (-1, "timed out");
        }

        return (process.ExitCode, stdout + stderr);
    }
}
