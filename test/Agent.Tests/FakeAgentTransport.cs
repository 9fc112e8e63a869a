using System.Security.Cryptography.X509Certificates;
using Holdfast.Agent.Transport;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric.Protocol;
using Holdfast.Identity.Certificates;

namespace Holdfast.Agent.Tests;

/// <summary>
/// A stand-in for the server's agent port: signs the CSR with a real CA when the token matches, answers syncs with
/// whatever the test sets, and can be made unreachable.
/// </summary>
internal sealed class FakeAgentTransport(CertificateAuthority ca, string token) : IAgentTransport
{
    public int Joins { get; private set; }

    public List<SyncRequest> Syncs { get; } = [];

    public X509Certificate2? ClientCertificate { get; private set; }

    public bool Unreachable { get; set; }

    public HostState State { get; set; } = HostState.InService;

    public List<DesiredInstance> Desired { get; } = [];

    public int SelfFenceSeconds { get; set; } = 20;

    public Task<JoinResponse> JoinAsync(JoinRequest request, CancellationToken cancellationToken)
    {
        Joins++;
        if (Unreachable)
        {
            throw new AgentTransportException("unreachable");
        }

        if (request.JoinToken != token)
        {
            throw new AgentTransportException(401, "AuthenticationFailed", "bad token");
        }

        using var issued = ca.SignClientCertificate(request.CertificateSigningRequestPem, request.HostName, Time.GetUtcNow(), Validity);
        return Task.FromResult(new JoinResponse(issued.ExportCertificatePem(), ca.ExportCertificatePem(), 5));
    }

    public Task<SyncResponse> SyncAsync(SyncRequest request, CancellationToken cancellationToken)
    {
        if (Unreachable)
        {
            throw new AgentTransportException("unreachable");
        }

        Syncs.Add(request);
        return Task.FromResult(new SyncResponse(State, [.. Desired], 5, SelfFenceSeconds));
    }

    public List<RenewRequest> Renewals { get; } = [];

    /// <summary>When set, renewals fail with this (a refusal or an unreachable server).</summary>
    public AgentTransportException? RenewFailure { get; set; }

    /// <summary>The validity of the certificates this fake issues, at join and renewal.</summary>
    public TimeSpan Validity { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The clock the fake CA issues by (the agent's, in tests on a manual clock).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    public Task<RenewResponse> RenewAsync(RenewRequest request, CancellationToken cancellationToken)
    {
        Renewals.Add(request);
        if (RenewFailure is { } failure)
        {
            throw failure;
        }

        Assert.NotNull(ClientCertificate);
        using var issued = ca.SignClientCertificate(request.CertificateSigningRequestPem, request.HostName, Time.GetUtcNow(), Validity);
        return Task.FromResult(new RenewResponse(issued.ExportCertificatePem(), ca.ExportCertificatePem()));
    }

    public void UseClientCertificate(X509Certificate2 certificate) => ClientCertificate = certificate;

    public void Dispose()
    {
    }
}
