using System.Diagnostics.CodeAnalysis;
using Holdfast.State.Conformance;
using Holdfast.Testing;

namespace Holdfast.State.Sqlite.Tests;

/// <summary>The shared contract suite on a real SQLite file in a fresh temp folder.</summary>
[SuppressMessage("Design", "CA1001", Justification = "Disposed in IAsyncLifetime.DisposeAsync, which xunit calls after every test.")]
public sealed class SqliteStateStoreConformanceTests : DurableStateStoreConformanceTests
{
    private readonly TempDirectory _directory = new();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }

    protected override async ValueTask<IStateStore> CreateStoreAsync(TimeProvider time) =>
        await SqliteStateStore.OpenAsync(_directory.Combine("state.db"), new SqliteStateStoreOptions(), time, CancellationToken.None);

    protected override async ValueTask<IStateStore> ReopenAsync(IStateStore store, TimeProvider time)
    {
        await store.DisposeAsync();
        return await CreateStoreAsync(time);
    }
}
