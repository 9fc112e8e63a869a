using Holdfast.Providers.Framework;
using Holdfast.State;
using Holdfast.Testing;
using Xunit;

namespace Holdfast.Providers.Tests.Framework;

public sealed class OperationJanitorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task SweepAsync_FinishedPastRetention_RemovesOnlyThose()
    {
        await using var store = new InMemoryStateStore(new ManualTimeProvider(Now));
        await PutAsync(store, Operation("old-done", OperationRecord.InProgress, Now.AddDays(-3)).Complete("Succeeded", Now.AddDays(-2)));
        await PutAsync(store, Operation("old-failed", OperationRecord.InProgress, Now.AddDays(-3)).Complete("Failed", Now.AddHours(-25)));
        await PutAsync(store, Operation("recent-done", OperationRecord.InProgress, Now.AddHours(-2)).Complete("Succeeded", Now.AddHours(-1)));
        await PutAsync(store, Operation("old-running", OperationRecord.InProgress, Now.AddDays(-5)));

        var removed = await OperationJanitor.SweepAsync(store, Now, TimeSpan.FromDays(1), CancellationToken.None);

        Assert.Equal(2, removed);
        Assert.Null(await store.GetAsync(ResourceKeys.Operation("old-done"), CancellationToken.None));
        Assert.Null(await store.GetAsync(ResourceKeys.Operation("old-failed"), CancellationToken.None));
        Assert.NotNull(await store.GetAsync(ResourceKeys.Operation("recent-done"), CancellationToken.None));
        Assert.NotNull(await store.GetAsync(ResourceKeys.Operation("old-running"), CancellationToken.None));
    }

    private static OperationRecord Operation(string name, string status, DateTimeOffset start) => new()
    {
        Name = name,
        Id = "/subscriptions/s/providers/Microsoft.Network/locations/local/operationStatuses/" + name,
        Status = status,
        StartTime = start,
        ResourceId = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
        Kind = "write",
        SubscriptionId = "s",
    };

    private static async Task PutAsync(InMemoryStateStore store, OperationRecord operation) =>
        await store.PutAsync(ResourceKeys.Operation(operation.Name), operation.Serialize(1), null, CancellationToken.None);
}
