using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Identity.Certificates;
using Holdfast.Resources.Errors;
using Holdfast.Server.Compute.VirtualMachines;
using Holdfast.Server.Fabric;
using Holdfast.State;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Agents;

/// <summary>
/// The server side of the agent protocol (docs/designs/0004-fleet-and-agents.md). Join consumes a host's one-time token
/// (compared by SHA-256 in constant time; expiring) and signs the agent's CSR with the site CA, registering the agent
/// and moving the host to Validating in one transaction. Sync authenticates the client certificate (chains to the site
/// CA, CN = the host, thumbprint = the one registered), records the heartbeat, moves Validating/Unreachable hosts to
/// InService, writes what the agent reports into <see cref="InstanceDocument.Observed"/> only when it changed, and
/// answers the host's desired instances — none for a Failed host, which is how it is fenced. Renew authenticates the same
/// way and moves the host's pin to a new certificate with a compare-and-swap (docs/designs/0004-fleet-and-agents.md,
/// "Certificate renewal"). Joins and renewals, refused or not, are recorded in the activity log (<see cref="AgentAudit"/>).
/// The fleet simulator calls <see cref="SyncSimulatedAsync"/>, the same logic without the TLS hop.
/// </summary>
internal sealed partial class AgentService(
    IStateStore store,
    CapacityService capacity,
    FleetView fleet,
    HostHealthMonitor health,
    AgentAudit audit,
    CertificateAuthority ca,
    HoldfastServerOptions options,
    TimeProvider time,
    ILogger<AgentService> logger)
{
    public const string OperationNotAllowed = "OperationNotAllowed";

    private static readonly HostState[] JoinableStates = [HostState.Provisioning, HostState.Validating, HostState.Failed];

    public Task<JoinResponse> JoinAsync(JoinRequest request, CancellationToken cancellationToken) => JoinAsync(request, null, cancellationToken);

    /// <summary>A join from <paramref name="clientAddress"/>; a refusal is recorded in the activity log before it is thrown.</summary>
    public async Task<JoinResponse> JoinAsync(JoinRequest? request, string? clientAddress, CancellationToken cancellationToken)
    {
        var auditRequest = AgentAudit.Request.New(clientAddress);
        try
        {
            return await JoinCoreAsync(request, auditRequest, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            throw await RefusedAsync(auditRequest, AgentAudit.JoinAction, request?.HostName, ex, "Agent join").ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Records an agent request refused before it could be read (a body that is not JSON, too large…) under the
    /// operation <paramref name="path"/> names, then returns the exception to throw.
    /// </summary>
    public async Task<ApiException> RefusedUnreadAsync(string path, ApiException refusal, string? clientAddress)
    {
        var (action, what) = path == Paths.Renew ? (AgentAudit.RenewAction, "Certificate renewal") : (AgentAudit.JoinAction, "Agent join");
        return await RefusedAsync(AgentAudit.Request.New(clientAddress), action, null, refusal, what).ConfigureAwait(false);
    }

    /// <summary>
    /// A certificate renewal over mTLS: <paramref name="certificate"/> must be the host's current certificate, or the
    /// one it was renewed from while the agent has not yet used the new one (a crash before it saved the new one must
    /// not lock it out), still valid. The CSR must carry a new key. The new certificate's thumbprint replaces the pin
    /// by compare-and-swap on the host document, with the activity-log record in the same transaction; the presented
    /// one stays accepted only until the new one is first used. A decommissioned host cannot renew; an expired
    /// certificate cannot either (the agent must join again with a token). Refusals are recorded before they are thrown.
    /// </summary>
    public async Task<RenewResponse> RenewAsync(X509Certificate2? certificate, RenewRequest? request, string? clientAddress, CancellationToken cancellationToken)
    {
        var auditRequest = AgentAudit.Request.New(clientAddress);
        try
        {
            return await RenewCoreAsync(certificate, request, auditRequest, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiException ex)
        {
            throw await RefusedAsync(auditRequest, AgentAudit.RenewAction, request?.HostName, ex, "Certificate renewal").ConfigureAwait(false);
        }
    }

    private async Task<ApiException> RefusedAsync(AgentAudit.Request auditRequest, string action, string? hostName, ApiException refusal, string what)
    {
        var named = IsHostName(hostName) ? hostName!.ToLowerInvariant() : null;
        LogRefused(logger, what, named ?? "(unnamed)", refusal.Code);
        return await audit.RecordRefusalAsync(auditRequest, action, named, refusal, what).ConfigureAwait(false)
            ? refusal
            : new ApiException(HttpStatusCode.ServiceUnavailable, ArmErrorCodes.ServiceUnavailable, "The refusal could not be recorded in the activity log; retry.") { RetryAfterSeconds = 1 };
    }

    private async Task<RenewResponse> RenewCoreAsync(X509Certificate2? certificate, RenewRequest? request, AgentAudit.Request auditRequest, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        Authenticate(certificate, now);
        if (request is null || string.IsNullOrEmpty(request.CertificateSigningRequestPem))
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidRequestContent, "A renewal needs hostName and certificateSigningRequestPem.");
        }

        ValidateHostName(request.HostName);
        var hostName = request.HostName.ToLowerInvariant();
        var presented = Thumbprint(certificate!);
        RequireCommonName(certificate!, hostName);
        var issued = Sign(request.CertificateSigningRequestPem, hostName, now);
        using (issued)
        {
            if (issued.PublicKey.EncodedKeyValue.RawData.AsSpan().SequenceEqual(certificate!.PublicKey.EncodedKeyValue.RawData))
            {
                throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidRequestContent, "A renewal must carry a new key pair; the CSR's key is the current certificate's.", "certificateSigningRequestPem");
            }

            var thumbprint = Thumbprint(issued);
            var hostKey = FabricKeys.Host(hostName);
            for (var attempt = 0; attempt < 8; attempt++)
            {
                var kv = await store.GetAsync(hostKey, cancellationToken).ConfigureAwait(false);
                var host = kv is null ? null : FabricJson.Deserialize<HostDocument>(kv.Value.Span);
                var agent = RequireRegistered(host, hostName, presented);
                if (host!.State == HostState.Decommissioned)
                {
                    throw new ApiException(HttpStatusCode.Forbidden, ArmErrorCodes.AuthorizationFailed, $"Host '{hostName}' is decommissioned: its agent's identity is revoked and cannot be renewed.");
                }

                // The presented certificate becomes the previous one: if it already was (the agent never used the certificate
                // of the last renewal, e.g. it crashed before saving it), that unused certificate is dropped.
                var renewed = host with
                {
                    Agent = agent with { CertificateThumbprint = thumbprint, PreviousCertificateThumbprint = presented, CertificateExpiresOn = issued.NotAfter.ToUniversalTime(), RenewedAt = now },
                };
                var result = await store.TxnAsync(
                    new TxnRequest(
                        [Compare.ModRevisionIs(hostKey, kv!.ModRevision)],
                        [TxnOp.Put(hostKey, FabricJson.Serialize(renewed)), audit.PendingOp(auditRequest, AgentAudit.RenewAction, hostName, $"Certificate renewal: {presented} -> {thumbprint}, expires {issued.NotAfter.ToUniversalTime():O}")]),
                    cancellationToken).ConfigureAwait(false);
                if (result.Succeeded)
                {
                    audit.Committed();
                    LogRenewed(logger, hostName, presented, thumbprint);
                    return new RenewResponse(issued.ExportCertificatePem(), ca.ExportCertificatePem());
                }
            }
        }

        throw new ApiException(HttpStatusCode.Conflict, ArmErrorCodes.Conflict, $"Host '{hostName}' changed while renewing; try again.");
    }

    private async Task<JoinResponse> JoinCoreAsync(JoinRequest? request, AgentAudit.Request auditRequest, CancellationToken cancellationToken)
    {
        ValidateJoin(request);
        var hostName = request!.HostName.ToLowerInvariant();
        var tokenKey = FabricKeys.JoinToken(hostName);
        var hostKey = FabricKeys.Host(hostName);
        var presented = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(request.JoinToken)));
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var now = time.GetUtcNow();
            var tokenKv = await store.GetAsync(tokenKey, cancellationToken).ConfigureAwait(false);
            var hostKv = await store.GetAsync(hostKey, cancellationToken).ConfigureAwait(false);
            var token = tokenKv is null ? null : FabricJson.Deserialize<JoinTokenDocument>(tokenKv.Value.Span);
            if (token is null || hostKv is null
                || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(token.SecretSha256.ToLowerInvariant()), Encoding.ASCII.GetBytes(presented)))
            {
                // One answer for a wrong, used or unknown token or host: nothing to learn from the difference.
                throw new ApiException(HttpStatusCode.Unauthorized, ArmErrorCodes.AuthenticationFailed, $"The join token is not valid for host '{hostName}'. Create a new one with createJoinToken.");
            }

            if (token.ExpiresOn <= now)
            {
                throw new ApiException(HttpStatusCode.Unauthorized, ArmErrorCodes.ExpiredAuthenticationToken, $"The join token for host '{hostName}' expired at {token.ExpiresOn:O}. Create a new one with createJoinToken.");
            }

            var host = FabricJson.Deserialize<HostDocument>(hostKv.Value.Span);
            if (!JoinableStates.Contains(host.State))
            {
                throw new ApiException(HttpStatusCode.Conflict, OperationNotAllowed, $"Host '{hostName}' is {host.State}; an agent may join only a host that is Provisioning, Validating or Failed.");
            }

            using (var issued = Sign(request.CertificateSigningRequestPem, hostName, now))
            {
                var registered = host with
                {
                    State = HostState.Validating,
                    StateReason = "An agent joined; validating its inventory against the declared capacity.",
                    StateChangedAt = now,
                    Simulated = request.Inventory.Simulated,
                    Agent = new AgentRegistration
                    {
                        CertificateThumbprint = Thumbprint(issued),
                        CertificateExpiresOn = issued.NotAfter.ToUniversalTime(),
                        JoinedAt = now,
                        Driver = request.Inventory.Driver,
                        AgentVersion = request.Inventory.AgentVersion,
                    },
                };
                var result = await store.TxnAsync(
                    new TxnRequest(
                        [Compare.ModRevisionIs(tokenKey, tokenKv!.ModRevision), Compare.ModRevisionIs(hostKey, hostKv.ModRevision)],
                        [TxnOp.Delete(tokenKey), TxnOp.Put(hostKey, FabricJson.Serialize(registered)), audit.PendingOp(auditRequest, AgentAudit.JoinAction, hostName, $"Agent join: certificate {registered.Agent.CertificateThumbprint}, driver {request.Inventory.Driver}")]),
                    cancellationToken).ConfigureAwait(false);
                if (!result.Succeeded)
                {
                    continue;
                }

                audit.Committed();
                health.RecordHeartbeat(hostName);
                LogJoined(logger, hostName, registered.Agent.CertificateThumbprint, request.Inventory.Driver);
                return new JoinResponse(issued.ExportCertificatePem(), ca.ExportCertificatePem(), options.HeartbeatSeconds);
            }
        }

        throw new ApiException(HttpStatusCode.Conflict, ArmErrorCodes.Conflict, $"Host '{hostName}' changed while joining; try again.");
    }

    /// <summary>
    /// An agent's heartbeat over mTLS: authenticates <paramref name="certificate"/>, then syncs. The first sync with a
    /// renewed certificate retires the one it was renewed from (<see cref="AgentRegistration.PreviousCertificateThumbprint"/>).
    /// </summary>
    public async Task<SyncResponse> SyncAsync(X509Certificate2? certificate, SyncRequest request, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        Authenticate(certificate, now);
        ValidateSync(request);
        var hostName = request.HostName.ToLowerInvariant();
        RequireCommonName(certificate!, hostName);
        var kv = await store.GetAsync(FabricKeys.Host(hostName), cancellationToken).ConfigureAwait(false);
        var host = kv is null ? null : FabricJson.Deserialize<HostDocument>(kv.Value.Span);
        var presented = Thumbprint(certificate!);
        var agent = RequireRegistered(host, hostName, presented);
        if (agent.PreviousCertificateThumbprint is not null && string.Equals(agent.CertificateThumbprint, presented, StringComparison.OrdinalIgnoreCase))
        {
            await RetirePreviousAsync(kv!, host!, cancellationToken).ConfigureAwait(false);
        }

        return await SyncHostAsync(host!.Name, host.State, request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The fleet simulator's heartbeat: the same sync, trusted (no TLS hop), reading the host's state from the placement index.</summary>
    public async Task<SyncResponse?> SyncSimulatedAsync(SyncRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (capacity.FindHost(request.HostName) is not { } snapshot)
        {
            return null;
        }

        return await SyncHostAsync(snapshot.Description.Name, snapshot.Description.State, request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The thumbprint a registration records: SHA-256 of the certificate, lower-case hex.</summary>
    public static string Thumbprint(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return certificate.GetCertHashString(HashAlgorithmName.SHA256).ToLowerInvariant();
    }

    /// <summary>
    /// The agent presented its renewed certificate: the one it renewed from is no longer accepted. One compare-and-swap;
    /// when it loses to a concurrent change the next sync tries again.
    /// </summary>
    private async Task RetirePreviousAsync(KeyValue kv, HostDocument host, CancellationToken cancellationToken)
    {
        var retired = host with { Agent = host.Agent! with { PreviousCertificateThumbprint = null } };
        var result = await store.PutAsync(kv.Key, FabricJson.Serialize(retired), kv.ModRevision, cancellationToken).ConfigureAwait(false);
        if (result.Succeeded)
        {
            LogPreviousRetired(logger, host.Name, host.Agent!.PreviousCertificateThumbprint!);
        }
    }

    /// <summary>A client certificate from this site's CA, valid now; an expired one is named as such (the agent must join again).</summary>
    private void Authenticate(X509Certificate2? certificate, DateTimeOffset now)
    {
        if (certificate is null)
        {
            throw new ApiException(HttpStatusCode.Unauthorized, ArmErrorCodes.AuthenticationFailed, "A client certificate issued at join is required.");
        }

        if (ca.Verifies(certificate, now))
        {
            return;
        }

        var notAfter = certificate.NotAfter.ToUniversalTime();
        if (notAfter <= now.UtcDateTime && ca.Verifies(certificate, new DateTimeOffset(notAfter).AddSeconds(-1)))
        {
            throw new ApiException(HttpStatusCode.Unauthorized, ArmErrorCodes.ExpiredAuthenticationToken, $"The client certificate expired at {notAfter:O} and cannot be renewed; create a join token (createJoinToken) and join the agent again.");
        }

        throw new ApiException(HttpStatusCode.Unauthorized, ArmErrorCodes.AuthenticationFailed, "The client certificate was not issued by this site's CA, or has expired.");
    }

    private static void RequireCommonName(X509Certificate2 certificate, string hostName)
    {
        var commonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (!string.Equals(commonName, hostName, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(HttpStatusCode.Forbidden, ArmErrorCodes.AuthorizationFailed, $"The client certificate is for host '{commonName}', not '{hostName}'.");
        }
    }

    /// <summary>The host's registration, when <paramref name="thumbprint"/> is its pinned certificate or the one a pending renewal replaced.</summary>
    private static AgentRegistration RequireRegistered(HostDocument? host, string hostName, string thumbprint)
    {
        if (host?.Agent is not { } agent
            || !(string.Equals(agent.CertificateThumbprint, thumbprint, StringComparison.OrdinalIgnoreCase)
                || string.Equals(agent.PreviousCertificateThumbprint, thumbprint, StringComparison.OrdinalIgnoreCase)))
        {
            throw new ApiException(HttpStatusCode.Forbidden, ArmErrorCodes.AuthorizationFailed, $"The client certificate is not the one registered for host '{hostName}'; the agent must join again.");
        }

        return agent;
    }

    private X509Certificate2 Sign(string certificateSigningRequestPem, string hostName, DateTimeOffset now)
    {
        try
        {
            return ca.SignClientCertificate(certificateSigningRequestPem, hostName, now, options.AgentCertificateValidity);
        }
        catch (ArgumentException ex)
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidRequestContent, ex.Message, "certificateSigningRequestPem");
        }
    }

    private async Task<SyncResponse> SyncHostAsync(string name, HostState state, SyncRequest request, CancellationToken cancellationToken)
    {
        var hostName = name.ToLowerInvariant();
        var now = time.GetUtcNow();
        health.RecordHeartbeat(hostName);
        if (state == HostState.Unreachable)
        {
            var written = await HostStateWriter.TransitionAsync(store, hostName, [HostState.Unreachable], HostState.InService, "Heartbeats resumed.", now, cancellationToken).ConfigureAwait(false);
            state = written?.State ?? state;
            LogStateChanged(logger, hostName, HostState.Unreachable, state);
        }
        else if (state == HostState.Validating)
        {
            state = await ValidateInventoryAsync(hostName, request.Inventory, now, cancellationToken).ConfigureAwait(false);
        }

        await fleet.WaitLoadedAsync(cancellationToken).ConfigureAwait(false);
        await RecordObservedAsync(hostName, request.Instances, now, cancellationToken).ConfigureAwait(false);

        // A Failed (or retired) host runs nothing: its instances were or are being re-placed elsewhere.
        IReadOnlyList<DesiredInstance> desired = state is HostState.Failed or HostState.Decommissioned or HostState.Maintenance
            ? []
            : [.. fleet.OnHost(hostName).Select(i => new DesiredInstance(i.Id, i.Demand, i.Size, i.DesiredPowerState, i.Epoch))];
        desired = await WithGuestsAsync(desired, request.Instances, cancellationToken).ConfigureAwait(false);
        return new SyncResponse(state, desired, options.HeartbeatSeconds, options.SelfFenceSeconds);
    }

    /// <summary>Adds the guest spec to the instances the agent did not report (those it is about to create), read from their VMs.</summary>
    private async Task<IReadOnlyList<DesiredInstance>> WithGuestsAsync(IReadOnlyList<DesiredInstance> desired, IReadOnlyList<InstanceReport> reports, CancellationToken cancellationToken)
    {
        var reported = reports.Where(r => r.PowerState != PowerState.Unknown).Select(r => r.Id).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var result = new List<DesiredInstance>(desired.Count);
        foreach (var instance in desired)
        {
            var document = reported.Contains(instance.Id) ? null : fleet.Find(instance.Id);
            var guest = document is null ? null : await VmGuestData.BuildAsync(store, document, cancellationToken).ConfigureAwait(false);
            result.Add(guest is null ? instance : instance with { Guest = guest });
        }

        return result;
    }

    private async Task<HostState> ValidateInventoryAsync(string hostName, HostInventory inventory, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var written = await HostStateWriter.UpdateAsync(store, hostName, host =>
        {
            if (host.State != HostState.Validating)
            {
                return null;
            }

            if (inventory.Capacity.Fits(host.Capacity))
            {
                return host with { State = HostState.InService, StateReason = "The agent's inventory covers the declared capacity.", StateChangedAt = now };
            }

            var reason = $"The agent reports {inventory.Capacity}, less than the declared {host.Capacity}.";
            return host.StateReason == reason ? null : host with { StateReason = reason };
        }, cancellationToken).ConfigureAwait(false);
        if (written?.State == HostState.InService)
        {
            LogStateChanged(logger, hostName, HostState.Validating, HostState.InService);
        }

        return written?.State ?? HostState.Validating;
    }

    /// <summary>Writes <see cref="InstanceDocument.Observed"/> for the instances placed here whose report changed (CAS on each document).</summary>
    private async Task RecordObservedAsync(string hostName, IReadOnlyList<InstanceReport> reports, DateTimeOffset now, CancellationToken cancellationToken)
    {
        foreach (var report in reports)
        {
            var known = fleet.Find(report.Id);
            if (report.Console is { } console && known is not null && string.Equals(known.Host, hostName, StringComparison.OrdinalIgnoreCase))
            {
                // The serial console's tail (boot diagnostics), bounded; the agent sends it only when it changed.
                var text = console.Length > GuestSpec.MaxConsoleBytes ? console[^GuestSpec.MaxConsoleBytes..] : console;
                await store.PutAsync(VmGuestData.ConsoleKey(report.Id), Encoding.UTF8.GetBytes(text), null, cancellationToken).ConfigureAwait(false);
            }

            if (known is null || !string.Equals(known.Host, hostName, StringComparison.OrdinalIgnoreCase) || SameAs(known.Observed, hostName, report))
            {
                continue;
            }

            var key = FabricKeys.Instance(report.Id);
            for (var attempt = 0; attempt < 4; attempt++)
            {
                var kv = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
                if (kv is null)
                {
                    break;
                }

                var instance = FabricJson.Deserialize<InstanceDocument>(kv.Value.Span);
                if (!string.Equals(instance.Host, hostName, StringComparison.OrdinalIgnoreCase) || SameAs(instance.Observed, hostName, report))
                {
                    break;
                }

                var observed = instance with { Observed = new ObservedInstance(hostName, report.PowerState, report.Epoch, now, report.Error) };
                var result = await store.PutAsync(key, FabricJson.Serialize(observed), kv.ModRevision, cancellationToken).ConfigureAwait(false);
                if (result.Succeeded)
                {
                    break;
                }
            }
        }
    }

    private static bool SameAs(ObservedInstance? observed, string hostName, InstanceReport report) =>
        observed is not null
        && string.Equals(observed.Host, hostName, StringComparison.OrdinalIgnoreCase)
        && observed.PowerState == report.PowerState
        && observed.Epoch == report.Epoch
        && observed.Error == report.Error;

    private static void ValidateJoin(JoinRequest? request)
    {
        if (request is null || string.IsNullOrEmpty(request.JoinToken) || string.IsNullOrEmpty(request.CertificateSigningRequestPem) || request.Inventory is null)
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidRequestContent, "A join needs hostName, joinToken, certificateSigningRequestPem and inventory.");
        }

        ValidateHostName(request.HostName);
    }

    private static void ValidateSync(SyncRequest? request)
    {
        if (request is null || request.Inventory is null || request.Instances is null || request.Instances.Any(i => i is null || string.IsNullOrEmpty(i.Id)))
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidRequestContent, "A sync needs hostName, bootId, inventory and instances (each with an id).");
        }

        ValidateHostName(request.HostName);
    }

    private static bool IsHostName(string? hostName) =>
        !string.IsNullOrEmpty(hostName) && hostName.Length <= 63 && char.IsAsciiLetterOrDigit(hostName[0]) && hostName.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    private static void ValidateHostName(string? hostName)
    {
        if (!IsHostName(hostName))
        {
            throw new ApiException(HttpStatusCode.BadRequest, ArmErrorCodes.InvalidRequestContent, $"'{hostName}' is not a host name (1-63 letters, digits and hyphens, starting with a letter or digit).", "hostName");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent of host {HostName} joined with certificate {Thumbprint} (driver {Driver})")]
    private static partial void LogJoined(ILogger logger, string hostName, string thumbprint, string driver);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent of host {HostName} renewed its certificate {Thumbprint} -> {NewThumbprint}")]
    private static partial void LogRenewed(ILogger logger, string hostName, string thumbprint, string newThumbprint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent of host {HostName} uses its renewed certificate; {Thumbprint} is no longer accepted")]
    private static partial void LogPreviousRetired(ILogger logger, string hostName, string thumbprint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{What} for host {HostName} refused ({Code})")]
    private static partial void LogRefused(ILogger logger, string what, string hostName, string code);

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostName}: {From} -> {To}")]
    private static partial void LogStateChanged(ILogger logger, string hostName, HostState from, HostState to);
}
