using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;

namespace Holdfast.Agent.Drivers.Simulated;

/// <summary>How a <see cref="SimulatedVmDriver"/> behaves: the machine it pretends to be, and its faults.</summary>
public sealed record SimulatedVmDriverOptions
{
    public required CapacityVector Capacity { get; init; }

    public IReadOnlyList<string> Traits { get; init; } = [];

    /// <summary>The JSON file its VMs live in, so a restarted agent still "has" them; null keeps them in memory only.</summary>
    public string? StatePath { get; init; }

    /// <summary>How long creating a VM takes.</summary>
    public TimeSpan CreateLatency { get; init; }

    /// <summary>Probability (0–1) that an operation fails with <see cref="VmDriverException"/> (fault injection).</summary>
    public double FailureRate { get; init; }

    /// <summary>Seed for the failure draws, for reproducible runs; null draws from a random seed.</summary>
    public int? Seed { get; init; }

    public string AgentVersion { get; init; } = "0.0.0";
}

/// <summary>
/// Simulated hardware, named as such: a hypervisor that keeps VMs as records (in memory and, with a state path, in a
/// JSON file), refuses a VM that does not fit its capacity, and injects latency and failures on request. Its inventory
/// says <c>Driver = "simulated"</c> and <c>Simulated = true</c>.
/// </summary>
public sealed class SimulatedVmDriver : IVmDriver
{
    public const string DriverName = "simulated";

    private readonly Lock _gate = new();
    private readonly SimulatedVmDriverOptions _options;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Dictionary<string, VmStatus> _vms = new(StringComparer.OrdinalIgnoreCase);

    public SimulatedVmDriver(SimulatedVmDriverOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        if (options.FailureRate is < 0 or > 1 || double.IsNaN(options.FailureRate))
        {
            throw new ArgumentOutOfRangeException(nameof(options), "The failure rate must be between 0 and 1.");
        }

        _options = options;
        _time = time;
#pragma warning disable CA5394 // Fault injection, not security.
        _random = options.Seed is { } seed ? new Random(seed) : new Random();
#pragma warning restore CA5394
        Inventory = new HostInventory(options.Capacity, options.Traits, DriverName, Simulated: true, options.AgentVersion);
        if (options.StatePath is { } path && File.Exists(path))
        {
            foreach (var vm in FabricJson.Deserialize<List<VmStatus>>(File.ReadAllBytes(path)))
            {
                _vms[vm.Id] = vm;
            }
        }
    }

    public HostInventory Inventory { get; }

    /// <summary>Reads the VMs a simulated driver persisted at <paramref name="statePath"/> (what a test inspects).</summary>
    public static IReadOnlyList<VmStatus> ReadStateFile(string statePath) =>
        File.Exists(statePath) ? FabricJson.Deserialize<List<VmStatus>>(File.ReadAllBytes(statePath)) : [];

    public async Task CreateAsync(VmSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (_options.CreateLatency > TimeSpan.Zero)
        {
            await Task.Delay(_options.CreateLatency, _time, cancellationToken).ConfigureAwait(false);
        }

        lock (_gate)
        {
            MaybeFail("create", spec.Id);
            if (_vms.ContainsKey(spec.Id))
            {
                throw new VmDriverException($"VM '{spec.Id}' already exists.");
            }

            var used = _vms.Values.Aggregate(CapacityVector.Zero, (sum, vm) => sum + vm.Demand);
            if (!(_options.Capacity - used).Fits(spec.Demand))
            {
                throw new VmDriverException($"VM '{spec.Id}' ({spec.Demand}) does not fit: {_options.Capacity - used} free.");
            }

            _vms[spec.Id] = new VmStatus(spec.Id, PowerState.Stopped, spec.Epoch, spec.Demand, spec.Size);
            Save();
        }
    }

    public Task StartAsync(string id, CancellationToken cancellationToken) => SetPowerAsync(id, "start", PowerState.Running);

    public Task StopAsync(string id, CancellationToken cancellationToken) => SetPowerAsync(id, "stop", PowerState.Stopped);

    public Task RestartAsync(string id, CancellationToken cancellationToken) => SetPowerAsync(id, "restart", PowerState.Running);

    public Task DeleteAsync(string id, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            MaybeFail("delete", id);
            if (_vms.Remove(id))
            {
                Save();
            }
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<VmStatus>> ListAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<VmStatus>>([.. _vms.Values.OrderBy(v => v.Id, StringComparer.Ordinal)]);
        }
    }

    private Task SetPowerAsync(string id, string operation, PowerState state)
    {
        lock (_gate)
        {
            MaybeFail(operation, id);
            if (!_vms.TryGetValue(id, out var vm))
            {
                throw new VmDriverException($"VM '{id}' does not exist.");
            }

            if (vm.PowerState != state)
            {
                _vms[id] = vm with { PowerState = state };
                Save();
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Caller holds the lock (the random source is not thread-safe).</summary>
    private void MaybeFail(string operation, string id)
    {
#pragma warning disable CA5394 // Fault injection, not security.
        if (_options.FailureRate > 0 && _random.NextDouble() < _options.FailureRate)
#pragma warning restore CA5394
        {
            throw new VmDriverException($"Simulated failure: {operation} of VM '{id}' failed (failure rate {_options.FailureRate}).");
        }
    }

    /// <summary>Caller holds the lock.</summary>
    private void Save()
    {
        if (_options.StatePath is { } path)
        {
            AgentFiles.WriteAtomic(path, FabricJson.Serialize(_vms.Values.OrderBy(v => v.Id, StringComparer.Ordinal).ToList()), isPrivate: true);
        }
    }
}
