using System.Security.Cryptography.X509Certificates;
using Holdfast.Agent.Drivers.Simulated;
using Holdfast.Agent.Transport;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Identity.Certificates;
using Holdfast.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Holdfast.Agent.Tests;

public sealed class HostAgentTests : IDisposable
{
    private const string Token = "secret-token";
    private static readonly CapacityVector Small = new(2, 4096, 10, 0);
    private readonly TempDirectory _directory = new();
    private readonly CertificateAuthority _ca = CertificateAuthority.Create("test-ca", TimeProvider.System.GetUtcNow(), TimeSpan.FromDays(10));
    private readonly ManualTimeProvider _time = new(TimeProvider.System.GetUtcNow());

    public void Dispose()
    {
        _ca.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task JoinAsync_WithToken_PersistsTheIdentityPrivatelyAndPresentsTheCertificate()
    {
        var transport = new FakeAgentTransport(_ca, Token);
        var agent = NewAgent(transport, NewDriver(), Token);

        await agent.JoinAsync(CancellationToken.None);

        Assert.Equal(1, transport.Joins);
        Assert.Equal("host-1", transport.ClientCertificate!.GetNameInfo(X509NameType.SimpleName, false));
        Assert.True(transport.ClientCertificate.HasPrivateKey);
        Assert.True(_ca.Verifies(transport.ClientCertificate));
        foreach (var file in new[] { "agent-key.pem", "agent-cert.pem", "agent.json" })
        {
            var path = Path.Combine(_directory.Path, file);
            Assert.True(File.Exists(path), file);
            Assert.DoesNotContain(Token, File.ReadAllText(path), StringComparison.Ordinal);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            }
        }
    }

    [Fact]
    public async Task JoinAsync_IdentityInTheStateDirectory_NeedsNoToken()
    {
        var first = new FakeAgentTransport(_ca, Token);
        await NewAgent(first, NewDriver(), Token).JoinAsync(CancellationToken.None);

        var second = new FakeAgentTransport(_ca, Token);
        await NewAgent(second, NewDriver(), token: null).JoinAsync(CancellationToken.None);

        Assert.Equal(0, second.Joins);
        Assert.Equal(first.ClientCertificate!.Thumbprint, second.ClientCertificate!.Thumbprint);
        Assert.True(second.ClientCertificate.HasPrivateKey);
    }

    [Fact]
    public async Task JoinAsync_NoIdentityAndNoToken_Throws()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => NewAgent(new FakeAgentTransport(_ca, Token), NewDriver(), token: null).JoinAsync(CancellationToken.None));
    }

    [Fact]
    public async Task JoinAsync_StateDirectoryOfAnotherHost_Throws()
    {
        await NewAgent(new FakeAgentTransport(_ca, Token), NewDriver(), Token).JoinAsync(CancellationToken.None);
        var other = new HostAgent(new HostAgentOptions { HostName = "host-2", StateDirectory = _directory.Path }, NewDriver(), new FakeAgentTransport(_ca, Token), _time, NullLogger<HostAgent>.Instance);

        await Assert.ThrowsAsync<InvalidOperationException>(() => other.JoinAsync(CancellationToken.None));
    }

    [Fact]
    public async Task SyncOnceAsync_DesiredRunningVms_CreatesAndStartsThemAndReportsThem()
    {
        var transport = new FakeAgentTransport(_ca, Token);
        var driver = NewDriver();
        var agent = await JoinedAsync(transport, driver);
        transport.Desired.Add(new DesiredInstance("vm-1", Small, null, PowerState.Running, 1));
        transport.Desired.Add(new DesiredInstance("vm-2", Small, null, PowerState.Stopped, 4));

        var (succeeded, changed) = await agent.SyncOnceAsync(CancellationToken.None);
        await agent.SyncOnceAsync(CancellationToken.None);

        Assert.True(succeeded);
        Assert.True(changed);
        var vms = await driver.ListAsync(CancellationToken.None);
        Assert.Equal([("vm-1", PowerState.Running, 1L), ("vm-2", PowerState.Stopped, 4L)], vms.Select(v => (v.Id, v.PowerState, v.Epoch)));
        Assert.Equal([("vm-1", PowerState.Running, 1L), ("vm-2", PowerState.Stopped, 4L)], transport.Syncs[^1].Instances.Select(i => (i.Id, i.PowerState, i.Epoch)));
        Assert.Equal("host-1", transport.Syncs[^1].HostName);
        Assert.True(transport.Syncs[^1].Inventory.Simulated);
    }

    [Fact]
    public async Task SyncOnceAsync_VmNotDesiredOrOfAnOlderEpoch_IsDeleted()
    {
        var transport = new FakeAgentTransport(_ca, Token);
        var driver = NewDriver();
        var agent = await JoinedAsync(transport, driver);
        await driver.CreateAsync(new VmSpec("vm-gone", Small, null, 1), CancellationToken.None);
        await driver.CreateAsync(new VmSpec("vm-moved-back", Small, null, 1), CancellationToken.None);
        await driver.StartAsync("vm-moved-back", CancellationToken.None);
        transport.Desired.Add(new DesiredInstance("vm-moved-back", Small, null, PowerState.Running, 3));

        await agent.SyncOnceAsync(CancellationToken.None);

        var vm = Assert.Single(await driver.ListAsync(CancellationToken.None));
        Assert.Equal(("vm-moved-back", 3L, PowerState.Running), (vm.Id, vm.Epoch, vm.PowerState));
    }

    [Fact]
    public async Task SyncOnceAsync_FailedHostWithNothingDesired_DeletesEveryVm()
    {
        var transport = new FakeAgentTransport(_ca, Token) { State = HostState.Failed };
        var driver = NewDriver();
        var agent = await JoinedAsync(transport, driver);
        await driver.CreateAsync(new VmSpec("vm-1", Small, null, 1), CancellationToken.None);
        await driver.StartAsync("vm-1", CancellationToken.None);

        await agent.SyncOnceAsync(CancellationToken.None);

        Assert.Empty(await driver.ListAsync(CancellationToken.None));
        Assert.Equal(HostState.Failed, agent.LastHostState);
    }

    [Fact]
    public async Task SyncOnceAsync_DriverFails_ReportsTheErrorOnTheNextSync()
    {
        var transport = new FakeAgentTransport(_ca, Token);
        var driver = new SimulatedVmDriver(new SimulatedVmDriverOptions { Capacity = new CapacityVector(8, 16384, 100, 0), FailureRate = 1 }, _time);
        var agent = await JoinedAsync(transport, driver);
        transport.Desired.Add(new DesiredInstance("vm-1", Small, null, PowerState.Running, 7));

        var (succeeded, changed) = await agent.SyncOnceAsync(CancellationToken.None);
        await agent.SyncOnceAsync(CancellationToken.None);

        Assert.True(succeeded);
        Assert.False(changed);
        Assert.Empty(await driver.ListAsync(CancellationToken.None));
        var report = Assert.Single(transport.Syncs[^1].Instances);
        Assert.Equal(("vm-1", PowerState.Unknown, 7L), (report.Id, report.PowerState, report.Epoch));
        Assert.Contains("Simulated failure", report.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SelfFenceIfDueAsync_NoSuccessfulSyncForTheSelfFenceTime_StopsEveryVm()
    {
        var transport = new FakeAgentTransport(_ca, Token) { SelfFenceSeconds = 20 };
        var driver = NewDriver();
        var agent = await JoinedAsync(transport, driver);
        transport.Desired.Add(new DesiredInstance("vm-1", Small, null, PowerState.Running, 1));
        await agent.SyncOnceAsync(CancellationToken.None);
        transport.Unreachable = true;

        _time.Advance(TimeSpan.FromSeconds(19));
        Assert.False((await agent.SyncOnceAsync(CancellationToken.None)).Succeeded);
        await agent.SelfFenceIfDueAsync(CancellationToken.None);
        Assert.False(agent.IsSelfFenced);
        Assert.Equal(PowerState.Running, Assert.Single(await driver.ListAsync(CancellationToken.None)).PowerState);

        _time.Advance(TimeSpan.FromSeconds(1));
        await agent.SelfFenceIfDueAsync(CancellationToken.None);

        Assert.True(agent.IsSelfFenced);
        Assert.Equal(PowerState.Stopped, Assert.Single(await driver.ListAsync(CancellationToken.None)).PowerState);

        // The server answers again (the host came back before it was declared Failed): the VM runs again.
        transport.Unreachable = false;
        await agent.SyncOnceAsync(CancellationToken.None);
        Assert.False(agent.IsSelfFenced);
        Assert.Equal(PowerState.Running, Assert.Single(await driver.ListAsync(CancellationToken.None)).PowerState);
    }

    [Fact]
    public async Task RunAsync_ServerAnswers_SyncsEveryHeartbeat()
    {
        var transport = new FakeAgentTransport(_ca, Token);
        var agent = NewAgent(transport, NewDriver(), Token);
        using var stop = new CancellationTokenSource();
        var run = agent.RunAsync(stop.Token);
        await WaitUntilAsync(() => transport.Syncs.Count >= 1);

        _time.Advance(TimeSpan.FromSeconds(5));
        await WaitUntilAsync(() => transport.Syncs.Count >= 2);
        _time.Advance(TimeSpan.FromSeconds(5));
        await WaitUntilAsync(() => transport.Syncs.Count >= 3);

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    private async Task<HostAgent> JoinedAsync(FakeAgentTransport transport, IVmDriver driver)
    {
        var agent = NewAgent(transport, driver, Token);
        await agent.JoinAsync(CancellationToken.None);
        return agent;
    }

    [Fact]
    public async Task RenewIfDueAsync_BeforeTwoThirdsOfTheValidity_DoesNotRenew()
    {
        var transport = new FakeAgentTransport(_ca, Token) { Time = _time, Validity = TimeSpan.FromHours(3) };
        var agent = NewAgent(transport, NewDriver(), Token, jitter: 0);
        await agent.JoinAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromHours(2) - TimeSpan.FromSeconds(1));

        Assert.False(await agent.RenewIfDueAsync(CancellationToken.None));

        Assert.Empty(transport.Renewals);
    }

    [Fact]
    public async Task RenewIfDueAsync_Due_RenewsWithANewKeySavesItPrivatelyAndPresentsIt()
    {
        var transport = new FakeAgentTransport(_ca, Token) { Time = _time, Validity = TimeSpan.FromHours(3) };
        var agent = NewAgent(transport, NewDriver(), Token, jitter: 0);
        await agent.JoinAsync(CancellationToken.None);
        var joined = transport.ClientCertificate!;
        _time.Advance(TimeSpan.FromHours(2));

        Assert.True(await agent.RenewIfDueAsync(CancellationToken.None));

        var renewal = Assert.Single(transport.Renewals);
        Assert.Equal("host-1", renewal.HostName);
        var renewed = transport.ClientCertificate!;
        Assert.NotEqual(joined.Thumbprint, renewed.Thumbprint);
        Assert.True(renewed.HasPrivateKey);
        Assert.False(renewed.PublicKey.EncodedKeyValue.RawData.SequenceEqual(joined.PublicKey.EncodedKeyValue.RawData));
        Assert.InRange(agent.NextRenewal, _time.GetUtcNow().AddHours(2).AddSeconds(-1), _time.GetUtcNow().AddHours(2));
        Assert.False(File.Exists(Path.Combine(_directory.Path, AgentIdentity.PendingFile)));
        foreach (var file in new[] { AgentIdentity.KeyFile, AgentIdentity.CertificateFile, AgentIdentity.StateFile })
        {
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_directory.Path, file)));
            }
        }

        // A restart loads the renewed identity, and schedules from when it was received.
        var restarted = new FakeAgentTransport(_ca, Token) { Time = _time };
        var again = NewAgent(restarted, NewDriver(), token: null, jitter: 0);
        await again.JoinAsync(CancellationToken.None);
        Assert.Equal(renewed.Thumbprint, restarted.ClientCertificate!.Thumbprint);
        Assert.Equal(agent.NextRenewal, again.NextRenewal);
    }

    [Fact]
    public async Task RenewIfDueAsync_ServerUnreachable_KeepsTheCertificateAndRetriesWithBackoff()
    {
        var transport = new FakeAgentTransport(_ca, Token) { Time = _time, Validity = TimeSpan.FromHours(3) };
        var agent = NewAgent(transport, NewDriver(), Token, jitter: 0);
        await agent.JoinAsync(CancellationToken.None);
        var joined = transport.ClientCertificate!;
        _time.Advance(TimeSpan.FromHours(2));
        transport.RenewFailure = new AgentTransportException("unreachable");

        Assert.False(await agent.RenewIfDueAsync(CancellationToken.None));
        Assert.Equal(_time.GetUtcNow().AddSeconds(5), agent.NextRenewal);
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(await agent.RenewIfDueAsync(CancellationToken.None));
        Assert.Single(transport.Renewals);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(await agent.RenewIfDueAsync(CancellationToken.None));
        Assert.Equal(_time.GetUtcNow().AddSeconds(10), agent.NextRenewal);

        transport.RenewFailure = null;
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(await agent.RenewIfDueAsync(CancellationToken.None));

        Assert.Equal(3, transport.Renewals.Count);
        Assert.NotEqual(joined.Thumbprint, transport.ClientCertificate!.Thumbprint);
    }

    [Fact]
    public async Task RenewIfDueAsync_CertificateExpired_DoesNotAskTheServer()
    {
        var transport = new FakeAgentTransport(_ca, Token) { Time = _time, Validity = TimeSpan.FromHours(3) };
        var agent = NewAgent(transport, NewDriver(), Token, jitter: 0);
        await agent.JoinAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromHours(3));

        Assert.False(await agent.RenewIfDueAsync(CancellationToken.None));

        Assert.Empty(transport.Renewals);
    }

    [Fact]
    public async Task JoinAsync_ExpiredIdentityAndAToken_JoinsAgain()
    {
        var transport = new FakeAgentTransport(_ca, Token) { Time = _time, Validity = TimeSpan.FromHours(3) };
        await NewAgent(transport, NewDriver(), Token).JoinAsync(CancellationToken.None);
        var expired = transport.ClientCertificate!;
        _time.Advance(TimeSpan.FromHours(4));

        var rejoining = new FakeAgentTransport(_ca, "new-token") { Time = _time };
        await NewAgent(rejoining, NewDriver(), "new-token").JoinAsync(CancellationToken.None);

        Assert.Equal(1, rejoining.Joins);
        Assert.NotEqual(expired.Thumbprint, rejoining.ClientCertificate!.Thumbprint);
    }

    [Fact]
    public async Task JoinAsync_SaveInterruptedAfterThePendingIdentity_FinishesIt()
    {
        var transport = new FakeAgentTransport(_ca, Token) { Time = _time };
        await NewAgent(transport, NewDriver(), Token).JoinAsync(CancellationToken.None);
        var old = transport.ClientCertificate!;

        // A renewal that crashed after writing the whole new identity, before replacing the key and certificate files.
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var csr = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=host-1", key, System.Security.Cryptography.HashAlgorithmName.SHA256).CreateSigningRequestPem();
        using var issued = _ca.SignClientCertificate(csr, "host-1", _time.GetUtcNow(), TimeSpan.FromDays(1));
        var state = new AgentState("host-1", 5, 20, _time.GetUtcNow());
        File.WriteAllBytes(Path.Combine(_directory.Path, AgentIdentity.PendingFile), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new { state, certificatePem = issued.ExportCertificatePem(), keyPem = key.ExportPkcs8PrivateKeyPem() }, FabricJson.Options));

        var restarted = new FakeAgentTransport(_ca, Token) { Time = _time };
        await NewAgent(restarted, NewDriver(), token: null).JoinAsync(CancellationToken.None);

        Assert.Equal(issued.Thumbprint, restarted.ClientCertificate!.Thumbprint);
        Assert.NotEqual(old.Thumbprint, restarted.ClientCertificate.Thumbprint);
        Assert.False(File.Exists(Path.Combine(_directory.Path, AgentIdentity.PendingFile)));
        Assert.Equal(issued.ExportCertificatePem(), File.ReadAllText(Path.Combine(_directory.Path, AgentIdentity.CertificateFile)));
    }

    private HostAgent NewAgent(FakeAgentTransport transport, IVmDriver driver, string? token, double? jitter = null) =>
        new(new HostAgentOptions { HostName = "host-1", JoinToken = token, StateDirectory = _directory.Path, Jitter = jitter is { } fixedJitter ? () => fixedJitter : Random.Shared.NextDouble }, driver, transport, _time, NullLogger<HostAgent>.Instance);

    private SimulatedVmDriver NewDriver(string? path = null) =>
        new(new SimulatedVmDriverOptions { Capacity = new CapacityVector(8, 16384, 100, 0), StatePath = path }, _time);
}
