using Holdfast.Server.Bootstrap;
using Holdfast.Server.Hosting;
using Holdfast.State;
using Holdfast.Testing;

namespace Holdfast.Server.Tests.Hosting;

/// <summary>
/// A second server on a data directory a running server holds fails before it touches anything: its store gets no
/// write (no bootstrap, no role seeding) and the running server keeps its lock.
/// </summary>
public sealed class SecondServerTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task StartAsync_OnADirectoryARunningServerHolds_FailsBeforeWritingToItsStore()
    {
        await using var firstStore = new InMemoryStateStore(TimeProvider.System);
        await using var first = await HoldfastServer.StartAsync(Options(), DataDirectory.Open(_directory.Path), firstStore, TimeProvider.System, null, CancellationToken.None);
        await using var secondStore = new InMemoryStateStore(TimeProvider.System);

        await Assert.ThrowsAsync<StartupException>(() => HoldfastServer.StartAsync(Options(), DataDirectory.Open(_directory.Path), secondStore, TimeProvider.System, null, CancellationToken.None));

        Assert.Equal(0, await secondStore.GetRevisionAsync(CancellationToken.None));
        using var probe = Holdfast.Server.Audit.DataDirectoryLock.TryAcquire(_directory.Path);
        Assert.Null(probe);
    }

    private HoldfastServerOptions Options() =>
        new() { DataDirectory = _directory.Path, Port = FreePort(), Throttle = new ThrottleOptions { Enabled = false } };

    private static int FreePort() => InProcessClients.FreePort();
}
