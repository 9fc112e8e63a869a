using System.Net;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Agent;
using Holdfast.Agent.Drivers.Simulated;
using Holdfast.Agent.Transport;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Server.Agents;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Hosting;
using Holdfast.State;
using Holdfast.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Holdfast.Server.Tests.Agents;

/// <summary>The agent listener of a real in-process server over TLS: its own port, only the agent routes, mTLS after join.</summary>
public sealed class AgentPortTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly TempDirectory _agentState = new();
    private readonly InMemoryStateStore _store = new(TimeProvider.System);
    private RunningServer _server = null!;
    private X509Certificate2 _ca = null!;

    public async Task InitializeAsync()
    {
        var options = new HoldfastServerOptions { DataDirectory = _directory.Path, Port = FreePort(), AgentPort = 0, Throttle = new ThrottleOptions { Enabled = false } };
        _server = await HoldfastServer.StartAsync(options, DataDirectory.Open(_directory.Path), _store, TimeProvider.System, null, CancellationToken.None);
        _ca = HttpsAgentTransport.LoadCaCertificate(_server.DataDirectory.CaCertificatePath);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _store.DisposeAsync();
        _ca.Dispose();
    }

    public void Dispose()
    {
        _directory.Dispose();
        _agentState.Dispose();
    }

    [Fact]
    public async Task AgentEndpoint_PortZero_IsABoundPortOtherThanTheArmPort()
    {
        Assert.NotNull(_server.AgentEndpoint);
        Assert.NotEqual(0, _server.AgentEndpoint!.Port);
        Assert.NotEqual(_server.Options.Port, _server.AgentEndpoint.Port);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Routes_AgentPathsOnlyOnTheAgentPort_ArmOnlyOnTheArmPort()
    {
        using var client = TrustingClient();
        var armPort = new Uri($"https://127.0.0.1:{_server.Options.Port}");

        using var joinOnArm = await client.PostAsync(new Uri(armPort, Paths.Join), new StringContent("{}"));
        using var armOnAgent = await client.GetAsync(new Uri(_server.AgentEndpoint!, "/subscriptions?api-version=2022-12-01"));
        using var joinOnAgent = await client.PostAsync(new Uri(_server.AgentEndpoint!, Paths.Join), new StringContent("{}"));

        Assert.NotEqual(HttpStatusCode.OK, joinOnArm.StatusCode);
        Assert.DoesNotContain("joinToken", await joinOnArm.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.NotFound, armOnAgent.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, joinOnAgent.StatusCode);
        Assert.Contains("\"code\":\"InvalidRequestContent\"", await joinOnAgent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostAgent_OverRealTls_JoinsThenSyncsWithItsCertificateAndGoesInService()
    {
        var host = new HostDocument { Name = "h1", Site = "s1", Cluster = "c1", Rack = "r1", Capacity = new CapacityVector(8, 16384, 100, 0) };
        await _store.PutAsync(FabricKeys.Host("h1"), FabricJson.Serialize(host), null, CancellationToken.None);
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("the-token"u8));
        await _store.PutAsync(FabricKeys.JoinToken("h1"), FabricJson.Serialize(new JoinTokenDocument("h1", hash, TimeProvider.System.GetUtcNow().AddHours(1))), null, CancellationToken.None);
        using var transport = new HttpsAgentTransport(_server.AgentEndpoint!, _ca, TimeSpan.FromSeconds(30));
        var driver = new SimulatedVmDriver(new SimulatedVmDriverOptions { Capacity = host.Capacity }, TimeProvider.System);
        var agent = new HostAgent(new HostAgentOptions { HostName = "h1", JoinToken = "the-token", StateDirectory = _agentState.Path }, driver, transport, TimeProvider.System, NullLogger<HostAgent>.Instance);

        await agent.EnsureJoinedAsync(CancellationToken.None);
        var (succeeded, _) = await agent.SyncOnceAsync(CancellationToken.None);

        Assert.True(succeeded);
        Assert.Equal(HostState.InService, agent.LastHostState);
        var stored = FabricJson.Deserialize<HostDocument>((await _store.GetAsync(FabricKeys.Host("h1"), CancellationToken.None))!.Value.Span);
        Assert.Equal(HostState.InService, stored.State);
        Assert.NotNull(stored.Agent);
    }

    [Fact]
    public async Task HostAgent_OverRealTls_RenewsWithItsCertificateThenSyncsWithTheNewOne()
    {
        var host = new HostDocument { Name = "h2", Site = "s1", Cluster = "c1", Rack = "r1", Capacity = new CapacityVector(8, 16384, 100, 0) };
        await _store.PutAsync(FabricKeys.Host("h2"), FabricJson.Serialize(host), null, CancellationToken.None);
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("the-token"u8));
        await _store.PutAsync(FabricKeys.JoinToken("h2"), FabricJson.Serialize(new JoinTokenDocument("h2", hash, TimeProvider.System.GetUtcNow().AddHours(1))), null, CancellationToken.None);
        using var transport = new HttpsAgentTransport(_server.AgentEndpoint!, _ca, TimeSpan.FromSeconds(30));
        var driver = new SimulatedVmDriver(new SimulatedVmDriverOptions { Capacity = host.Capacity }, TimeProvider.System);

        // Only the agent's clock runs ahead (to its renewal time); the server's is the real one, so the certificate is valid.
        var agentClock = new ManualTimeProvider(TimeProvider.System.GetUtcNow());
        var agent = new HostAgent(new HostAgentOptions { HostName = "h2", JoinToken = "the-token", StateDirectory = _agentState.Path, Jitter = () => 0 }, driver, transport, agentClock, NullLogger<HostAgent>.Instance);
        await agent.EnsureJoinedAsync(CancellationToken.None);
        var joined = AgentService.Thumbprint(agent.Certificate!);
        agentClock.Advance(TimeSpan.FromDays(21));

        Assert.True(await agent.RenewIfDueAsync(CancellationToken.None));
        var renewed = AgentService.Thumbprint(agent.Certificate!);
        var (succeeded, _) = await agent.SyncOnceAsync(CancellationToken.None);

        Assert.True(succeeded);
        Assert.NotEqual(joined, renewed);
        var stored = FabricJson.Deserialize<HostDocument>((await _store.GetAsync(FabricKeys.Host("h2"), CancellationToken.None))!.Value.Span);
        Assert.Equal(renewed, stored.Agent!.CertificateThumbprint);
        Assert.Null(stored.Agent.PreviousCertificateThumbprint);
    }

    [Fact]
    public async Task SyncAsync_WithoutAClientCertificate_IsRefusedWith401()
    {
        using var transport = new HttpsAgentTransport(_server.AgentEndpoint!, _ca, TimeSpan.FromSeconds(30));

        var ex = await Assert.ThrowsAsync<AgentTransportException>(() => transport.SyncAsync(new SyncRequest("h1", "b", new HostInventory(CapacityVector.Zero, [], "simulated", true, "t"), []), CancellationToken.None));

        Assert.Equal((401, "AuthenticationFailed"), (ex.StatusCode, ex.Code));
    }

    private HttpClient TrustingClient()
    {
        var ca = _ca;
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) => certificate is not null && PinnedCa.ChainsTo(certificate, ca),
        };
        return new HttpClient(handler);
    }

    private static int FreePort() => InProcessClients.FreePort();
}
