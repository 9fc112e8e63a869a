using Holdfast.State.Conformance;

namespace Holdfast.State.Tests;

/// <summary>The shared contract suite on the in-memory store other components' unit tests use.</summary>
public sealed class InMemoryStateStoreConformanceTests : StateStoreConformanceTests
{
    protected override ValueTask<IStateStore> CreateStoreAsync(TimeProvider time) => ValueTask.FromResult<IStateStore>(new InMemoryStateStore(time));
}
