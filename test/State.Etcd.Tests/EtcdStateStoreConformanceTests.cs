using System.Diagnostics.CodeAnalysis;
using Holdfast.State.Conformance;
using Holdfast.Testing;

namespace Holdfast.State.Etcd.Tests;

/// <summary>
/// The shared contract suite on a real etcd: a new single-member cluster (own ports, own data directory) per test.
/// Leases run on etcd's clock, so letting time pass is a real delay. A reopen is a new store object on the same
/// running member: the data lives in etcd, not in the store object. It does not restart etcd, because etcd renews
/// every lease to its full TTL when a member becomes leader, which this suite's lease deadline test would (rightly)
/// reject; kill -9 and restart of members is covered by <see cref="EtcdFaultTests"/>.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "Disposed in IAsyncLifetime.DisposeAsync, which xunit calls after every test.")]
public class EtcdStateStoreConformanceTests : DurableStateStoreConformanceTests
{
    private readonly TempDirectory _directory = new();
    private EtcdProcess? _etcd;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_etcd is not null)
        {
            await _etcd.DisposeAsync();
        }

        _directory.Dispose();
    }

    /// <summary>The API the store speaks: gRPC here, the JSON gateway in <see cref="EtcdGatewayConformanceTests"/>.</summary>
    protected virtual EtcdApi Api => EtcdApi.Grpc;

    protected override async ValueTask<IStateStore> CreateStoreAsync(TimeProvider time)
    {
        _etcd ??= await EtcdProcess.StartSingleAsync(_directory.Path);
        try
        {
            return await EtcdStateStore.OpenAsync(new EtcdStateStoreOptions { Endpoints = [_etcd.ClientUrl], Api = Api }, CancellationToken.None);
        }
        catch
        {
            // xunit v2 does not call DisposeAsync when InitializeAsync throws: the member must not outlive the test.
            await _etcd.DisposeAsync();
            _etcd = null;
            throw;
        }
    }

    protected override async ValueTask<IStateStore> ReopenAsync(IStateStore store, TimeProvider time)
    {
        await store.DisposeAsync();
        return await CreateStoreAsync(time);
    }

    protected override Task LetTimePassAsync(TimeSpan by) => Task.Delay(by);

    protected override bool ReadsOlderRevisions => true;
}
