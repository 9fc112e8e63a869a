using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Identity.Certificates;
using Holdfast.Server.Agents;
using Holdfast.Server.Audit;
using Holdfast.Server.Fabric;
using Holdfast.State;
using Holdfast.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Holdfast.Server.Tests.Agents;

/// <summary>
/// The server's agent side in-process on the in-memory store: the placement service and fleet view follow the store by
/// watch; the health monitor and agent service run on a manual clock (sweeps are called, not timed).
/// </summary>
internal sealed class AgentHarness : IAsyncDisposable
{
    public static readonly CapacityVector HostShape = new(16, 65536, 512, 0);
    public static readonly CapacityVector Small = new(4, 8192, 32, 0);

    private AgentHarness(HoldfastServerOptions options)
    {
        Options = options;
        Store = new InMemoryStateStore(TimeProvider.System);
        Time = new ManualTimeProvider(TimeProvider.System.GetUtcNow());
        Ca = CertificateAuthority.Create("test-site-ca", Time.GetUtcNow(), TimeSpan.FromDays(365));
        Capacity = new CapacityService(Store, NullLogger<CapacityService>.Instance);
        Fleet = new FleetView(Store, NullLogger<FleetView>.Instance);
        Health = new HostHealthMonitor(Store, Capacity, Fleet, options, Time, NullLogger<HostHealthMonitor>.Instance);
        Audit = new AgentAudit(Store, new AuditChainSignal(), Time, NullLogger<AgentAudit>.Instance);
        Agents = new AgentService(Store, Capacity, Fleet, Health, Audit, Ca, options, Time, NullLogger<AgentService>.Instance);
    }

    public HoldfastServerOptions Options { get; }

    public InMemoryStateStore Store { get; }

    public ManualTimeProvider Time { get; }

    public CertificateAuthority Ca { get; }

    public CapacityService Capacity { get; }

    public FleetView Fleet { get; }

    public HostHealthMonitor Health { get; }

    public AgentAudit Audit { get; }

    public AgentService Agents { get; }

    public static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    public static async Task<AgentHarness> StartAsync(HoldfastServerOptions? options = null)
    {
        var harness = new AgentHarness(options ?? new HoldfastServerOptions { DataDirectory = "unused", HeartbeatSeconds = 5, UnreachableAfterSeconds = 15, FailedAfterSeconds = 60 });
        await harness.Capacity.StartAsync(CancellationToken.None);
        await harness.Fleet.StartAsync(CancellationToken.None);
        await harness.Capacity.WaitLoadedAsync(Ct);
        await harness.Fleet.WaitLoadedAsync(Ct);
        return harness;
    }

    public async Task<long> PutHostAsync(string name, HostState state, CapacityVector? capacity = null, string rack = "r1")
    {
        var host = new HostDocument { Name = name, Site = "s1", Cluster = "c1", Rack = rack, Capacity = capacity ?? HostShape, State = state };
        var result = await Store.PutAsync(FabricKeys.Host(name), FabricJson.Serialize(host), null, Ct);
        await CaughtUpAsync(result.Revision);
        return result.Revision;
    }

    public async Task<string> PutJoinTokenAsync(string host, TimeSpan validFor)
    {
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
        await Store.PutAsync(FabricKeys.JoinToken(host), FabricJson.Serialize(new JoinTokenDocument(host, hash, Time.GetUtcNow() + validFor)), null, Ct);
        return secret;
    }

    /// <summary>Joins as an agent would: a new key, a CSR, the token; the certificate comes back with its key.</summary>
    public async Task<X509Certificate2> JoinAsync(string host, string token, CapacityVector? inventory = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest($"CN={host}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        var response = await Agents.JoinAsync(new JoinRequest(host, token, csr, Inventory(inventory)), Ct);
        using var issued = X509Certificate2.CreateFromPem(response.CertificatePem);
        return issued.CopyWithPrivateKey(key);
    }

    public static HostInventory Inventory(CapacityVector? capacity = null) => new(capacity ?? HostShape, ["ssd"], "simulated", true, "test");

    public static SyncRequest Sync(string host, params InstanceReport[] instances) => new(host, "boot-1", Inventory(), instances);

    /// <summary>A registered agent's heartbeat: straight through the authenticated path with its certificate.</summary>
    public async Task<SyncResponse> SyncAsync(X509Certificate2 certificate, string host, params InstanceReport[] instances)
    {
        var response = await Agents.SyncAsync(certificate, Sync(host, instances), Ct);
        await CaughtUpAsync(await Store.GetRevisionAsync(Ct));
        return response;
    }

    public async Task<InstanceDocument> PlaceAsync(string id, CapacityVector? demand = null)
    {
        var result = await Capacity.PlaceAsync(new InstanceDocument { Id = id, Demand = demand ?? Small }, [], [], request => Store.TxnAsync(request, CancellationToken.None), Ct);
        Assert.True(result.Placed, result.Explanation?.Summary);
        await CaughtUpAsync(result.Revision);
        return (await ReadInstanceAsync(id))!;
    }

    public async Task<HostDocument> ReadHostAsync(string name) =>
        FabricJson.Deserialize<HostDocument>((await Store.GetAsync(FabricKeys.Host(name), Ct))!.Value.Span);

    public async Task<InstanceDocument?> ReadInstanceAsync(string id) =>
        await Store.GetAsync(FabricKeys.Instance(id), Ct) is { } kv ? FabricJson.Deserialize<InstanceDocument>(kv.Value.Span) : null;

    /// <summary>Every allocation id on every host record, with its host (for "never placed twice").</summary>
    public async Task<List<(string Host, string Id)>> AllocationsAsync()
    {
        var page = await Store.RangeAsync(new RangeRequest(FabricKeys.AllocationsPrefix), Ct);
        return [.. page.Items.SelectMany(kv => AllocationRecordCodec.Decode(kv.Value.Span, kv.ModRevision).Allocations.Select(a => (FabricKeys.NameOf(kv.Key), a.Id)))];
    }

    /// <summary>Runs a sweep and waits until the watched views have applied what it wrote.</summary>
    public async Task SweepAsync()
    {
        await Health.SweepAsync(Ct);
        await CaughtUpAsync(await Store.GetRevisionAsync(Ct));
    }

    public async Task CaughtUpAsync(long revision)
    {
        await Capacity.WaitForRevisionAsync(revision, Ct);
        await Fleet.WaitForRevisionAsync(revision, Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await Capacity.StopAsync(CancellationToken.None);
        await Fleet.StopAsync(CancellationToken.None);
        Capacity.Dispose();
        Fleet.Dispose();
        Ca.Dispose();
        await Store.DisposeAsync();
    }
}
