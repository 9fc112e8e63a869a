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

    /// <summary>Draws the renewal jitter, a fraction in [0, 1), once per certificate (tests pin it).</summary>
    public Func<double> Jitter { get; init; } = Random.Shared.NextDouble;
}

/// <summary>
/// The host agent (docs/designs/0004-fleet-and-agents.md, "Agent protocol"). Joins once (a new ECDSA P-256 key and a
/// CSR, exchanged with the one-time token for a client certificate), then syncs every heartbeat: reports inventory and
/// its VMs, converges the driver to the desired list it gets back (which deletes whatever is not listed: that is how a
/// returning host is fenced), and stops every VM by itself when no sync has succeeded for the self-fence time. Between
/// heartbeats it renews its client certificate when <see cref="CertificateRenewal"/> says so: a new key, a CSR, sent
/// over mTLS with the current certificate; the new identity is saved atomically and used for new connections.
/// </summary>
public sealed partial class HostAgent(HostAgentOptions options, IVmDriver driver, IAgentTransport transport, TimeProvider time, ILogger<HostAgent> logger)
{
    private readonly string _bootId = Guid.NewGuid().ToString("N");
    private AgentIdentity? _identity;
    private ConvergeResult _last = ConvergeResult.None;
    private DateTimeOffset _lastSuccess;
    private HostState? _lastState;
    private Dictionary<string, string> _consoleSent = new(StringComparer.OrdinalIgnoreCase);
    private DateTimeOffset _nextRenewal = DateTimeOffset.MaxValue;
    private int _renewalFailures;
    private bool _expiryLogged;

    /// <summary>The host state the server last answered with.</summary>
    public HostState? LastHostState => _lastState;

    /// <summary>True after the agent stopped its VMs for want of a successful sync (until one succeeds again).</summary>
    public bool IsSelfFenced { get; private set; }

    public DateTimeOffset LastSuccessfulSync => _lastSuccess;

    /// <summary>When the agent next tries to renew its certificate (after a failure: when it retries).</summary>
    public DateTimeOffset NextRenewal => _nextRenewal;

    /// <summary>The client certificate presented now (null before join).</summary>
    public X509Certificate2? Certificate => _identity?.Certificate;

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

            await RenewIfDueAsync(cancellationToken).ConfigureAwait(false);

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

            if (time.GetUtcNow() < loaded.NotAfter || string.IsNullOrEmpty(options.JoinToken))
            {
                _identity = loaded;
                transport.UseClientCertificate(loaded.Certificate);
                ScheduleRenewal();
                LogResumed(logger, options.HostName);
                return;
            }

            // Its certificate expired (it could not renew in time): the operator gave a new token to join again.
            LogJoiningAgain(logger, options.HostName, loaded.NotAfter);
        }

        if (string.IsNullOrEmpty(options.JoinToken))
        {
            throw new InvalidOperationException($"The agent has not joined yet (no identity in '{options.StateDirectory}') and has no join token.");
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest($"CN={options.HostName.ToLowerInvariant()}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        var response = await transport.JoinAsync(new JoinRequest(options.HostName.ToLowerInvariant(), options.JoinToken, csr, driver.Inventory), cancellationToken).ConfigureAwait(false);
        var state = new AgentState(options.HostName.ToLowerInvariant(), Math.Max(1, response.HeartbeatSeconds), options.DefaultSelfFenceSeconds, time.GetUtcNow());
        _identity = AgentIdentity.Save(options.StateDirectory, state, key, response.CertificatePem);
        transport.UseClientCertificate(_identity.Certificate);
        ScheduleRenewal();
        var pin = Pin(_identity.Certificate);
        LogJoined(logger, options.HostName, pin);
    }

    /// <summary>
    /// Renews the client certificate when it is due (see <see cref="CertificateRenewal"/>): a new ECDSA P-256 key and a
    /// CSR, sent with the current certificate; the new identity is saved atomically, then presented on new connections.
    /// A failure schedules a retry with backoff; an expired certificate is not renewed (the server would refuse it):
    /// the agent says once that it must join again. Returns whether it renewed.
    /// </summary>
    public async Task<bool> RenewIfDueAsync(CancellationToken cancellationToken)
    {
        var identity = _identity ?? throw new InvalidOperationException("Join first.");
        var now = time.GetUtcNow();
        if (now < _nextRenewal)
        {
            return false;
        }

        if (now >= identity.NotAfter)
        {
            if (!_expiryLogged)
            {
                _expiryLogged = true;
                LogExpired(logger, options.HostName, identity.NotAfter);
            }

            return false;
        }

        var hostName = identity.State.HostName;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest($"CN={hostName}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        AgentIdentity renewed;
        try
        {
            var response = await transport.RenewAsync(new RenewRequest(hostName, csr), cancellationToken).ConfigureAwait(false);
            using (var issued = X509Certificate2.CreateFromPem(response.CertificatePem))
            {
                if (!string.Equals(issued.GetNameInfo(X509NameType.SimpleName, forIssuer: false), hostName, StringComparison.OrdinalIgnoreCase))
                {
                    throw new CryptographicException($"The renewed certificate is not for host '{hostName}'.");
                }
            }

            // Saved before it is used: the server accepts the current certificate until the new one is first presented.
            renewed = AgentIdentity.Save(options.StateDirectory, identity.State with { CertificateReceivedAt = time.GetUtcNow() }, key, response.CertificatePem);
        }
        catch (Exception ex) when (ex is AgentTransportException or CryptographicException or IOException or UnauthorizedAccessException)
        {
            _renewalFailures++;
            var delay = CertificateRenewal.RetryDelay(_renewalFailures, now, identity.NotAfter);
            _nextRenewal = now + delay;
            LogRenewalFailed(logger, options.HostName, ex.Message, identity.NotAfter, (int)Math.Ceiling(delay.TotalSeconds));
            return false;
        }

        _identity = renewed;
        transport.UseClientCertificate(renewed.Certificate);
        _renewalFailures = 0;
        ScheduleRenewal();
        var (oldPin, newPin) = (Pin(identity.Certificate), Pin(renewed.Certificate));
        LogRenewed(logger, options.HostName, oldPin, newPin, renewed.NotAfter, _nextRenewal);
        return true;
    }

    /// <summary>A certificate as the server pins it (SHA-256, lower-case hex), so logs match the host's registration.</summary>
    private static string Pin(X509Certificate2 certificate) => Convert.ToHexStringLower(certificate.GetCertHash(HashAlgorithmName.SHA256));

    private void ScheduleRenewal()
    {
        var identity = _identity!;
        _nextRenewal = CertificateRenewal.RenewAt(identity.NotBefore, identity.NotAfter, identity.State.CertificateReceivedAt, options.Jitter());
        _expiryLogged = false;
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostName} renewed its client certificate {Thumbprint} -> {NewThumbprint}, valid until {NotAfter:O}; next renewal at {NextRenewal:O}")]
    private static partial void LogRenewed(ILogger logger, string hostName, string thumbprint, string newThumbprint, DateTimeOffset notAfter, DateTimeOffset nextRenewal);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Host {HostName} could not renew its client certificate (valid until {NotAfter:O}): {Reason}; retrying in {Seconds} s")]
    private static partial void LogRenewalFailed(ILogger logger, string hostName, string reason, DateTimeOffset notAfter, int seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Host {HostName}: the client certificate expired at {NotAfter:O} and cannot be renewed; create a join token (createJoinToken) and restart the agent with it")]
    private static partial void LogExpired(ILogger logger, string hostName, DateTimeOffset notAfter);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Host {HostName}: the certificate in the state directory expired at {NotAfter:O}; joining again with the token given")]
    private static partial void LogJoiningAgain(ILogger logger, string hostName, DateTimeOffset notAfter);

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
