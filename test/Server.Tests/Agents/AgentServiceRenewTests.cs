using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Holdfast.Audit.Chain;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Resources.Errors;
using Holdfast.Server.Agents;
using Holdfast.Server.Audit;
using Holdfast.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Holdfast.Server.Tests.Agents;

/// <summary>
/// Certificate renewal's pin switch: the new certificate is pinned by compare-and-swap, the one renewed from stays
/// accepted only until the new one is used, revoked (decommissioned, re-joined) hosts and expired certificates are
/// refused, and every join and renewal, refused or not, leaves an activity-log record.
/// </summary>
public sealed class AgentServiceRenewTests : IAsyncLifetime
{
    private AgentHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await AgentHarness.StartAsync(new HoldfastServerOptions
    {
        DataDirectory = "unused",
        HeartbeatSeconds = 5,
        UnreachableAfterSeconds = 15,
        FailedAfterSeconds = 60,
        AgentCertificateValidity = TimeSpan.FromHours(3),
    });

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task RenewAsync_CurrentCertificate_IssuesANewKeysCertificateAndMovesThePin()
    {
        using var current = await JoinedAsync("h1");

        using var renewed = await RenewAsync(_harness.Agents, current, "h1");

        Assert.Equal("h1", renewed.GetNameInfo(X509NameType.SimpleName, false));
        Assert.True(_harness.Ca.Verifies(renewed, _harness.Time.GetUtcNow()));
        Assert.False(renewed.PublicKey.EncodedKeyValue.RawData.SequenceEqual(current.PublicKey.EncodedKeyValue.RawData));
        Assert.Equal(_harness.Time.GetUtcNow().AddHours(3).UtcDateTime, renewed.NotAfter.ToUniversalTime(), TimeSpan.FromSeconds(1));
        var agent = (await _harness.ReadHostAsync("h1")).Agent!;
        Assert.Equal(AgentService.Thumbprint(renewed), agent.CertificateThumbprint);
        Assert.Equal(AgentService.Thumbprint(current), agent.PreviousCertificateThumbprint);
        Assert.Equal(_harness.Time.GetUtcNow(), agent.RenewedAt);
    }

    [Fact]
    public async Task SyncAsync_OldCertificateAfterTheNewOneWasUsed_IsForbiddenAndCannotRenew()
    {
        using var old = await JoinedAsync("h1");
        using var renewed = await RenewAsync(_harness.Agents, old, "h1");

        // Until the agent uses the new certificate, the old one still syncs (a crash before it saved the new one).
        await _harness.SyncAsync(old, "h1");
        await _harness.SyncAsync(renewed, "h1");

        Assert.Null((await _harness.ReadHostAsync("h1")).Agent!.PreviousCertificateThumbprint);
        var sync = await Assert.ThrowsAsync<ApiException>(() => _harness.Agents.SyncAsync(old, AgentHarness.Sync("h1"), AgentHarness.Ct));
        Assert.Equal((HttpStatusCode.Forbidden, ArmErrorCodes.AuthorizationFailed), (sync.StatusCode, sync.Code));
        var renew = await Assert.ThrowsAsync<ApiException>(() => RenewAsync(_harness.Agents, old, "h1"));
        Assert.Equal((HttpStatusCode.Forbidden, ArmErrorCodes.AuthorizationFailed), (renew.StatusCode, renew.Code));
        Assert.Equal(HostState.InService, (await _harness.Agents.SyncAsync(renewed, AgentHarness.Sync("h1"), AgentHarness.Ct)).HostState);
    }

    [Fact]
    public async Task RenewAsync_AgentLostTheNewCertificate_RenewsAgainWithTheOldOneAndTheLostOneIsRefused()
    {
        using var old = await JoinedAsync("h1");
        using var lost = await RenewAsync(_harness.Agents, old, "h1");

        using var again = await RenewAsync(_harness.Agents, old, "h1");

        var agent = (await _harness.ReadHostAsync("h1")).Agent!;
        Assert.Equal(AgentService.Thumbprint(again), agent.CertificateThumbprint);
        Assert.Equal(AgentService.Thumbprint(old), agent.PreviousCertificateThumbprint);
        var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.Agents.SyncAsync(lost, AgentHarness.Sync("h1"), AgentHarness.Ct));
        Assert.Equal(HttpStatusCode.Forbidden, ex.StatusCode);
        await _harness.SyncAsync(again, "h1");
    }

    [Fact]
    public async Task RenewAsync_DecommissionedHost_IsForbiddenAndThePinUnchanged()
    {
        using var current = await JoinedAsync("h1");
        await SetStateAsync(_harness.Store, "h1", HostState.Decommissioned);

        var ex = await Assert.ThrowsAsync<ApiException>(() => RenewAsync(_harness.Agents, current, "h1"));

        Assert.Equal((HttpStatusCode.Forbidden, ArmErrorCodes.AuthorizationFailed), (ex.StatusCode, ex.Code));
        Assert.Contains("decommissioned", ex.Message, StringComparison.Ordinal);
        var agent = (await _harness.ReadHostAsync("h1")).Agent!;
        Assert.Equal(AgentService.Thumbprint(current), agent.CertificateThumbprint);
        Assert.Null(agent.PreviousCertificateThumbprint);
    }

    [Fact]
    public async Task RenewAsync_ExpiredCertificate_IsRefusedAsExpiredNamingTheJoinToken()
    {
        using var current = await JoinedAsync("h1");
        _harness.Time.Advance(TimeSpan.FromHours(3) + TimeSpan.FromSeconds(1));

        var ex = await Assert.ThrowsAsync<ApiException>(() => RenewAsync(_harness.Agents, current, "h1"));

        Assert.Equal((HttpStatusCode.Unauthorized, ArmErrorCodes.ExpiredAuthenticationToken), (ex.StatusCode, ex.Code));
        Assert.Contains("createJoinToken", ex.Message, StringComparison.Ordinal);
        Assert.Equal(AgentService.Thumbprint(current), (await _harness.ReadHostAsync("h1")).Agent!.CertificateThumbprint);
    }

    [Fact]
    public async Task RenewAsync_CsrWithTheCurrentKey_IsBadRequest()
    {
        using var current = await JoinedAsync("h1");
        using var key = current.GetECDsaPrivateKey()!;
        var csr = new CertificateRequest("CN=h1", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();

        var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.Agents.RenewAsync(current, new RenewRequest("h1", csr), null, AgentHarness.Ct));

        Assert.Equal((HttpStatusCode.BadRequest, ArmErrorCodes.InvalidRequestContent), (ex.StatusCode, ex.Code));
        Assert.Equal(AgentService.Thumbprint(current), (await _harness.ReadHostAsync("h1")).Agent!.CertificateThumbprint);
    }

    [Fact]
    public async Task RenewAsync_CertificateOfAnotherHostOrNone_IsRefused()
    {
        using var h1 = await JoinedAsync("h1");
        using var h2 = await JoinedAsync("h2");

        var other = await Assert.ThrowsAsync<ApiException>(() => RenewAsync(_harness.Agents, h2, "h1"));
        var none = await Assert.ThrowsAsync<ApiException>(() => RenewAsync(_harness.Agents, null, "h1"));

        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(AgentService.Thumbprint(h1), (await _harness.ReadHostAsync("h1")).Agent!.CertificateThumbprint);
    }

    [Fact]
    public async Task RenewAsync_HostDecommissionedBetweenReadAndWrite_LosesTheCompareAndIsRefused()
    {
        using var current = await JoinedAsync("h1");
        var store = new InterleavingStore(_harness.Store, () => SetStateAsync(_harness.Store, "h1", HostState.Decommissioned));

        var ex = await Assert.ThrowsAsync<ApiException>(() => RenewAsync(ServiceOn(store), current, "h1"));

        Assert.Equal(HttpStatusCode.Forbidden, ex.StatusCode);
        var host = await _harness.ReadHostAsync("h1");
        Assert.Equal(HostState.Decommissioned, host.State);
        Assert.Equal(AgentService.Thumbprint(current), host.Agent!.CertificateThumbprint);
    }

    [Fact]
    public async Task RenewAsync_AgentJoinedAgainBetweenReadAndWrite_TheOldIdentityCannotRenew()
    {
        using var current = await JoinedAsync("h1");
        X509Certificate2? rejoined = null;
        var store = new InterleavingStore(_harness.Store, async () =>
        {
            await SetStateAsync(_harness.Store, "h1", HostState.Failed);
            rejoined = await _harness.JoinAsync("h1", await _harness.PutJoinTokenAsync("h1", TimeSpan.FromHours(1)));
        });

        var ex = await Assert.ThrowsAsync<ApiException>(() => RenewAsync(ServiceOn(store), current, "h1"));

        using (rejoined)
        {
            Assert.Equal(HttpStatusCode.Forbidden, ex.StatusCode);
            var agent = (await _harness.ReadHostAsync("h1")).Agent!;
            Assert.Equal(AgentService.Thumbprint(rejoined!), agent.CertificateThumbprint);
            Assert.Null(agent.PreviousCertificateThumbprint);
        }
    }

    [Fact]
    public async Task JoinAndRenew_SucceededAndRefused_AreRecordedForTheActivityLog()
    {
        using var current = await JoinedAsync("h1");
        (await RenewAsync(_harness.Agents, current, "h1")).Dispose();
        await Assert.ThrowsAsync<ApiException>(() => _harness.JoinAsync("h1", "not-a-token"));
        await SetStateAsync(_harness.Store, "h1", HostState.Decommissioned);
        await Assert.ThrowsAsync<ApiException>(() => RenewAsync(_harness.Agents, current, "h1"));

        var records = (await _harness.Store.RangeAsync(new RangeRequest(AuditKeys.PendingPrefix), AgentHarness.Ct)).Items
            .Select(kv => JsonSerializer.Deserialize(kv.Value.Span, AuditServerJson.Default.AuditRecord)!)
            .Select(r => (r.Operation, r.Status, r.HttpStatusCode, r.ResourceId, r.SubscriptionId))
            .OrderBy(r => r.Operation, StringComparer.Ordinal).ThenBy(r => r.HttpStatusCode)
            .ToList();

        // Sorted as the records are: agentJoin before renewAgentCertificate, then by status.
        (string, string, int, string, string?)[] expected =
        [
            (AgentAudit.JoinAction, AuditStatuses.Succeeded, 200, "/providers/Holdfast.Fabric/hosts/h1", null),
            (AgentAudit.JoinAction, AuditStatuses.Failed, 401, "/providers/Holdfast.Fabric/hosts/h1", null),
            (AgentAudit.RenewAction, AuditStatuses.Succeeded, 200, "/providers/Holdfast.Fabric/hosts/h1", null),
            (AgentAudit.RenewAction, AuditStatuses.Failed, 403, "/providers/Holdfast.Fabric/hosts/h1", null),
        ];
        Assert.Equal(expected, records);
    }

    private AgentService ServiceOn(IStateStore store) =>
        new(store, _harness.Capacity, _harness.Fleet, _harness.Health, new AgentAudit(store, new AuditChainSignal(), _harness.Time, NullLogger<AgentAudit>.Instance), _harness.Ca, _harness.Options, _harness.Time, NullLogger<AgentService>.Instance);

    private async Task<X509Certificate2> JoinedAsync(string host)
    {
        await _harness.PutHostAsync(host, HostState.Provisioning);
        return await _harness.JoinAsync(host, await _harness.PutJoinTokenAsync(host, TimeSpan.FromHours(1)));
    }

    /// <summary>Renews as an agent would: a new key and a CSR, sent with <paramref name="certificate"/>; the new certificate comes back with its key.</summary>
    private static async Task<X509Certificate2> RenewAsync(AgentService agents, X509Certificate2? certificate, string host)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest($"CN={host}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        var response = await agents.RenewAsync(certificate, new RenewRequest(host, csr), "127.0.0.1", AgentHarness.Ct);
        using var issued = X509Certificate2.CreateFromPem(response.CertificatePem);
        return issued.CopyWithPrivateKey(key);
    }

    private static async Task SetStateAsync(InMemoryStateStore store, string host, HostState state)
    {
        var kv = (await store.GetAsync(FabricKeys.Host(host), AgentHarness.Ct))!;
        var document = FabricJson.Deserialize<HostDocument>(kv.Value.Span) with { State = state };
        Assert.True((await store.PutAsync(kv.Key, FabricJson.Serialize(document), kv.ModRevision, AgentHarness.Ct)).Succeeded);
    }

    /// <summary>Runs <c>interleave</c> once, just before the first transaction: a concurrent change between a write's read and its commit.</summary>
    private sealed class InterleavingStore(IStateStore inner, Func<Task> interleave) : DelegatingStateStore(inner)
    {
        private int _done;

        public override async ValueTask<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                await interleave().ConfigureAwait(false);
            }

            return await Inner.TxnAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }
}
