using Holdfast.Agent.Drivers.Simulated;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Testing;

namespace Holdfast.Agent.Tests.Drivers.Simulated;

public sealed class SimulatedVmDriverTests : IDisposable
{
    private static readonly CapacityVector Host = new(8, 16384, 100, 0);
    private static readonly CapacityVector Small = new(2, 4096, 10, 0);
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task CreateStartStopDelete_OneVm_ListShowsEachState()
    {
        var driver = NewDriver();

        await driver.CreateAsync(new VmSpec("vm-1", Small, "Standard_D2s_v3", 3), CancellationToken.None);
        Assert.Equal(PowerState.Stopped, Assert.Single(await driver.ListAsync(CancellationToken.None)).PowerState);
        await driver.StartAsync("vm-1", CancellationToken.None);
        var running = Assert.Single(await driver.ListAsync(CancellationToken.None));
        Assert.Equal((PowerState.Running, 3L, "Standard_D2s_v3"), (running.PowerState, running.Epoch, running.Size));
        await driver.StopAsync("vm-1", CancellationToken.None);
        Assert.Equal(PowerState.Stopped, Assert.Single(await driver.ListAsync(CancellationToken.None)).PowerState);
        await driver.RestartAsync("vm-1", CancellationToken.None);
        Assert.Equal(PowerState.Running, Assert.Single(await driver.ListAsync(CancellationToken.None)).PowerState);
        await driver.DeleteAsync("vm-1", CancellationToken.None);
        Assert.Empty(await driver.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task CreateAsync_BeyondCapacity_Throws()
    {
        var driver = NewDriver();
        await driver.CreateAsync(new VmSpec("vm-1", new CapacityVector(6, 4096, 10, 0), null, 1), CancellationToken.None);

        await Assert.ThrowsAsync<VmDriverException>(() => driver.CreateAsync(new VmSpec("vm-2", Small with { VCpus = 3 }, null, 1), CancellationToken.None));
        Assert.Single(await driver.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task StartAsync_UnknownVm_Throws()
    {
        await Assert.ThrowsAsync<VmDriverException>(() => NewDriver().StartAsync("nope", CancellationToken.None));
    }

    [Fact]
    public async Task Inventory_Always_SaysItIsSimulated()
    {
        var inventory = NewDriver().Inventory;

        Assert.Equal(("simulated", true, Host), (inventory.Driver, inventory.Simulated, inventory.Capacity));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Constructor_ExistingStateFile_HasTheVmsOfTheEarlierProcess()
    {
        var path = _directory.Combine("vms.json");
        var first = NewDriver(path);
        await first.CreateAsync(new VmSpec("vm-1", Small, null, 2), CancellationToken.None);
        await first.StartAsync("vm-1", CancellationToken.None);

        var second = NewDriver(path);

        var vm = Assert.Single(await second.ListAsync(CancellationToken.None));
        Assert.Equal(("vm-1", PowerState.Running, 2L), (vm.Id, vm.PowerState, vm.Epoch));
        Assert.Equal(["vm-1"], SimulatedVmDriver.ReadStateFile(path).Select(v => v.Id));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public async Task FailureRate_One_EveryOperationFails()
    {
        var driver = NewDriver(failureRate: 1);

        var ex = await Assert.ThrowsAsync<VmDriverException>(() => driver.CreateAsync(new VmSpec("vm-1", Small, null, 1), CancellationToken.None));
        Assert.Contains("Simulated failure", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await driver.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task FailureRate_SameSeed_FailsTheSameOperations()
    {
        async Task<List<bool>> RunAsync()
        {
            var driver = NewDriver(failureRate: 0.5, seed: 42);
            var outcomes = new List<bool>();
            for (var i = 0; i < 20; i++)
            {
                try
                {
                    await driver.DeleteAsync("vm-" + i, CancellationToken.None);
                    outcomes.Add(true);
                }
                catch (VmDriverException)
                {
                    outcomes.Add(false);
                }
            }

            return outcomes;
        }

        var first = await RunAsync();
        var second = await RunAsync();

        Assert.Equal(first, second);
        Assert.Contains(true, first);
        Assert.Contains(false, first);
    }

    [Fact]
    public async Task CreateAsync_WithLatency_CompletesOnlyWhenTheTimeHasPassed()
    {
        var time = new ManualTimeProvider();
        var driver = new SimulatedVmDriver(new SimulatedVmDriverOptions { Capacity = Host, CreateLatency = TimeSpan.FromSeconds(3) }, time);

        var create = driver.CreateAsync(new VmSpec("vm-1", Small, null, 1), CancellationToken.None);
        Assert.False(create.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(3));
        await create.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Single(await driver.ListAsync(CancellationToken.None));
    }

    private static SimulatedVmDriver NewDriver(string? path = null, double failureRate = 0, int? seed = null) =>
        new(new SimulatedVmDriverOptions { Capacity = Host, StatePath = path, FailureRate = failureRate, Seed = seed }, TimeProvider.System);
}
