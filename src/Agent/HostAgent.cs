using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Agent.Transport;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric.Protocol;
using Microsoft.Extensions.Logging;

namespace Holdfast.Agent;

/// <summary>How a <see cref="HostAgent"/> runs.</summary>
public sealed record HostAgentOptions
{
    public required string HostName { get; init; }

    /// <summary>The one-time join token; needed only until the agent has joined (its identity is then in <see cref="StateDirectory"/>).</summary>
    public string? JoinToken { get; init; }

    public required string StateDirectory { get; init; }

    /// <summary>Self-fence timeout used until the server has said otherwise.</summary>
    public int DefaultSelfFenceSeconds { get; init; } = 20;
}

/// <summary>
/// The host agent (docs/designs/0004-fleet-and-agents.md, "Agent protocol"). Joins once (a new ECDSA P-256 key and a
/// CSR, exchanged with the one-time token for a client certificate), then syncs every heartbeat: reports inventory and
/// its VMs, converges the driver to the desired list it gets back (which deletes whatever is not listed: that is how a
/// returning host is fenced), and stops every VM by itself when no sync has succeeded for the self-fence time.
/// </summary>
public sealed partial class HostAgent(HostAgentOptions options, IVmDriver driver, IAgentTransport transport, TimeProvider time, ILogger<HostAgent> logger)
{
    private readonly string _bootId = Guid.NewGuid().ToString("N");
    private AgentIdentity? _identity;
    private ConvergeResult _last = ConvergeResult.None;
    private DateTimeOffset _lastSuccess;
    private HostState? _lastState;
    private Dictionary<string, string> _consoleSent = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The host state the server last answered with.</summary>
    public HostState? LastHostState => _lastState;

    /// <summary>True after the agent stopped its VMs for want of a successful sync (until one succeeds again).</summary>
    public bool IsSelfFenced { get; private set; }

    public DateTimeOffset LastSuccessfulSync => _lastSuccess;

    /// <summary>Joins if needed, then syncs until cancelled. A refused join throws <see cref="AgentTransportException"/>.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await EnsureJoinedAsync(cancellationToken).ConfigureAwait(false);
        _lastSuccess = time.GetUtcNow();
        var resyncAtOnce = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            var (succeeded, changed) = await SyncOnceAsync(cancellationToken).ConfigureAwait(false);
            if (!succeeded)
            {
                await SelfFenceIfDueAsync(cancellationToken).ConfigureAwait(false);
            }

            // After changing something, report it at once (once), so the server sees the new state without a heartbeat's wait.
            resyncAtOnce = changed && !resyncAtOnce;
            if (!resyncAtOnce)
            {
                await Task.Delay(TimeSpan.FromSeconds(_identity!.State.HeartbeatSeconds), time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Loads the identity from the state directory, or joins with the token and persists it.</summary>
    public async Task JoinAsync(CancellationToken cancellationToken)
    {
        if (_identity is not null)
        {
            return;
        }

        Directory.CreateDirectory(options.StateDirectory);
        if (AgentIdentity.Exists(options.StateDirectory))
        {
            var loaded = AgentIdentity.Load(options.StateDirectory);
            if (!string.Equals(loaded.State.HostName, options.HostName, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"The state directory belongs to host '{loaded.State.HostName}', not '{options.HostName}'.");
            }

            _identity = loaded;
            transport.UseClientCertificate(loaded.Certificate);
            LogResumed(logger, options.HostName);
            return;
        }

        if (string.IsNullOrEmpty(options.JoinToken))
        {
            throw new InvalidOperationException($"The agent has not joined yet (no identity in '{options.StateDirectory}') and has no join token.");
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest($"CN={options.HostName.ToLowerInvariant()}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        var response = await transport.JoinAsync(new JoinRequest(options.HostName.ToLowerInvariant(), options.JoinToken, csr, driver.Inventory), cancellationToken).ConfigureAwait(false);
        var state = new AgentState(options.HostName.ToLowerInvariant(), Math.Max(1, response.HeartbeatSeconds), options.DefaultSelfFenceSeconds);
        _identity = AgentIdentity.Save(options.StateDirectory, state, key, response.CertificatePem);
        transport.UseClientCertificate(_identity.Certificate);
        LogJoined(logger, options.HostName, _identity.Certificate.Thumbprint);
    }

    /// <summary>
    /// One heartbeat: report, get the desired list, converge. Returns whether the sync succeeded and whether the
    /// driver changed anything.
    /// </summary>
    public async Task<(bool Succeeded, bool Changed)> SyncOnceAsync(CancellationToken cancellationToken)
    {
        var identity = _identity ?? throw new InvalidOperationException("Join first.");
        var reports = await Convergence.ReportAsync(driver, _last, cancellationToken).ConfigureAwait(false);
        var consoleNow = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (driver is IVmConsoleSource consoles)
        {
            // Each VM's console tail, sent only when it changed since the last successful sync.
            reports = [.. reports.Select(report =>
            {
                if (consoles.ReadConsole(report.Id) is not { } text)
                {
                    return report;
                }

                var hash = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
                consoleNow[report.Id] = hash;
                return _consoleSent.GetValueOrDefault(report.Id) == hash ? report : report with { Console = text };
            })];
        }

        SyncResponse response;
        try
        {
            response = await transport.SyncAsync(new SyncRequest(identity.State.HostName, _bootId, driver.Inventory, reports), cancellationToken).ConfigureAwait(false);
        }
        catch (AgentTransportException ex)
        {
            LogSyncFailed(logger, options.HostName, ex.Message);
            return (false, false);
        }

        _lastSuccess = time.GetUtcNow();
        _consoleSent = consoleNow;
        if (IsSelfFenced)
        {
            LogReconnected(logger, options.HostName);
            IsSelfFenced = false;
        }

        if (_lastState != response.HostState)
        {
            LogHostState(logger, options.HostName, response.HostState);
        }

        _lastState = response.HostState;
        identity.Update(options.StateDirectory, identity.State with { HeartbeatSeconds = Math.Max(1, response.HeartbeatSeconds), SelfFenceSeconds = Math.Max(1, response.SelfFenceSeconds) });
        var result = await Convergence.ConvergeAsync(driver, response.Desired, cancellationToken).ConfigureAwait(false);
        _last = result;
        foreach (var (id, error) in result.Errors)
        {
            LogVmError(logger, id, error);
        }

        return (true, result.Changes > 0);
    }

    /// <summary>Stops every VM when no sync has succeeded for the self-fence time (the server may be re-placing them).</summary>
    public async Task SelfFenceIfDueAsync(CancellationToken cancellationToken)
    {
        var identity = _identity ?? throw new InvalidOperationException("Join first.");
        var silent = time.GetUtcNow() - _lastSuccess;
        if (IsSelfFenced || silent < TimeSpan.FromSeconds(identity.State.SelfFenceSeconds))
        {
            return;
        }

        var result = await Convergence.StopAllAsync(driver, cancellationToken).ConfigureAwait(false);
        _last = result;
        if (result.Errors.Count == 0)
        {
            IsSelfFenced = true;
            LogSelfFenced(logger, options.HostName, (int)silent.TotalSeconds);
        }
    }

    /// <summary>Joins (or loads the identity), retrying while the server cannot be reached; a refusal throws.</summary>
    public async Task EnsureJoinedAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await JoinAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (AgentTransportException ex) when (!ex.IsRejection)
            {
                LogJoinRetry(logger, options.HostName, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostName} joined; client certificate {Thumbprint}")]
    private static partial void LogJoined(ILogger logger, string hostName, string thumbprint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostName} resumed with the identity in its state directory")]
    private static partial void LogResumed(ILogger logger, string hostName);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Host {HostName} cannot join yet: {Reason}; retrying")]
    private static partial void LogJoinRetry(ILogger logger, string hostName, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Host {HostName} sync failed: {Reason}")]
    private static partial void LogSyncFailed(ILogger logger, string hostName, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostName} is {HostState}")]
    private static partial void LogHostState(ILogger logger, string hostName, HostState hostState);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {InstanceId}: {Reason}")]
    private static partial void LogVmError(ILogger logger, string instanceId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Host {HostName} self-fenced: no successful sync for {Seconds} s, every VM stopped")]
    private static partial void LogSelfFenced(ILogger logger, string hostName, int seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostName} reached the server again")]
    private static partial void LogReconnected(ILogger logger, string hostName);
}
