using System.Net;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Identity.Certificates;
using Holdfast.Resources.Errors;

namespace Holdfast.Server.Tests.Agents;

public sealed class AgentServiceSyncTests : IAsyncLifetime
{
    private AgentHarness _harness = null!;

    public async Task InitializeAsync() => _harness = await AgentHarness.StartAsync();

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task SyncAsync_NoCertificate_IsUnauthorized()
    {
        var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.Agents.SyncAsync(null, AgentHarness.Sync("h1"), AgentHarness.Ct));

        Assert.Equal((HttpStatusCode.Unauthorized, ArmErrorCodes.AuthenticationFailed), (ex.StatusCode, ex.Code));
    }

    [Fact]
    public async Task SyncAsync_CertificateFromAnotherCa_IsUnauthorized()
    {
        await JoinedAsync("h1");
        using var other = CertificateAuthority.Create("other", _harness.Time.GetUtcNow(), TimeSpan.FromDays(10));
        using var forged = other.IssueClientCertificate("h1", _harness.Time.GetUtcNow(), TimeSpan.FromDays(1));

        var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.Agents.SyncAsync(forged, AgentHarness.Sync("h1"), AgentHarness.Ct));

        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
    }

    [Fact]
    public async Task SyncAsync_CertificateOfAnotherHost_IsForbidden()
    {
        await JoinedAsync("h1");
        using var h2 = await JoinedAsync("h2");

        var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.Agents.SyncAsync(h2, AgentHarness.Sync("h1"), AgentHarness.Ct));

        Assert.Equal((HttpStatusCode.Forbidden, ArmErrorCodes.AuthorizationFailed), (ex.StatusCode, ex.Code));
    }

    [Fact]
    public async Task SyncAsync_SiteCertificateNotTheRegisteredOne_IsForbidden()
    {
        (await JoinedAsync("h1")).Dispose();
        using var unregistered = _harness.Ca.IssueClientCertificate("h1", _harness.Time.GetUtcNow(), TimeSpan.FromDays(1));

        var ex = await Assert.ThrowsAsync<ApiException>(() => _harness.Agents.SyncAsync(unregistered, AgentHarness.Sync("h1"), AgentHarness.Ct));

        Assert.Equal(HttpStatusCode.Forbidden, ex.StatusCode);
    }

    [Fact]
    public async Task SyncAsync_ValidatingHostWhoseInventoryCoversItsCapacity_GoesInService()
    {
        using var certificate = await JoinedAsync("h1");

        var response = await _harness.SyncAsync(certificate, "h1");

        Assert.Equal(HostState.InService, response.HostState);
        Assert.Equal(HostState.InService, (await _harness.ReadHostAsync("h1")).State);
        Assert.Equal((5, 20), (response.HeartbeatSeconds, response.SelfFenceSeconds));
    }

    [Fact]
    public async Task SyncAsync_ValidatingHostWithLessThanDeclared_StaysValidatingWithTheReason()
    {
        using var certificate = await JoinedAsync("h1");

        var response = await _harness.Agents.SyncAsync(certificate, new SyncRequest("h1", "b", AgentHarness.Inventory(new CapacityVector(8, 65536, 512, 0)), []), AgentHarness.Ct);

        Assert.Equal(HostState.Validating, response.HostState);
        var host = await _harness.ReadHostAsync("h1");
        Assert.Equal(HostState.Validating, host.State);
        Assert.Contains("less than the declared", host.StateReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SyncAsync_PlacedInstance_IsDesiredAndItsReportIsWrittenOnlyWhenItChanges()
    {
        using var certificate = await JoinedAsync("h1");
        await _harness.SyncAsync(certificate, "h1");
        var placed = await _harness.PlaceAsync("vm-1");

        var first = await _harness.SyncAsync(certificate, "h1");
        var desired = Assert.Single(first.Desired);
        Assert.Equal(("vm-1", placed.Epoch, PowerState.Running, AgentHarness.Small), (desired.Id, desired.Epoch, desired.PowerState, desired.Demand));

        await _harness.SyncAsync(certificate, "h1", new InstanceReport("vm-1", PowerState.Running, placed.Epoch));
        var observed = (await _harness.Store.GetAsync(FabricKeys.Instance("vm-1"), AgentHarness.Ct))!;
        var instance = FabricJson.Deserialize<InstanceDocument>(observed.Value.Span);
        Assert.Equal(("h1", PowerState.Running, placed.Epoch), (instance.Observed!.Host, instance.Observed.PowerState, instance.Observed.Epoch));

        _harness.Time.Advance(TimeSpan.FromSeconds(5));
        await _harness.SyncAsync(certificate, "h1", new InstanceReport("vm-1", PowerState.Running, placed.Epoch));
        Assert.Equal(observed.ModRevision, (await _harness.Store.GetAsync(FabricKeys.Instance("vm-1"), AgentHarness.Ct))!.ModRevision);

        await _harness.SyncAsync(certificate, "h1", new InstanceReport("vm-1", PowerState.Stopped, placed.Epoch, "stopped by hand"));
        Assert.Equal(("stopped by hand", PowerState.Stopped), ((await _harness.ReadInstanceAsync("vm-1"))!.Observed!.Error, (await _harness.ReadInstanceAsync("vm-1"))!.Observed!.PowerState));
    }

    [Fact]
    public async Task SyncAsync_ReportOfAnInstancePlacedElsewhere_IsNotWritten()
    {
        using var h1 = await JoinedAsync("h1");
        await _harness.SyncAsync(h1, "h1");
        var placed = await _harness.PlaceAsync("vm-1");
        Assert.Equal("h1", placed.Host);
        using var h2 = await JoinedAsync("h2");

        await _harness.SyncAsync(h2, "h2", new InstanceReport("vm-1", PowerState.Running, placed.Epoch));

        Assert.Null((await _harness.ReadInstanceAsync("vm-1"))!.Observed);
    }

    private async Task<System.Security.Cryptography.X509Certificates.X509Certificate2> JoinedAsync(string host)
    {
        await _harness.PutHostAsync(host, HostState.Provisioning);
        return await _harness.JoinAsync(host, await _harness.PutJoinTokenAsync(host, TimeSpan.FromHours(1)));
    }
}
