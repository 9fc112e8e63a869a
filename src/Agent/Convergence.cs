using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;

namespace Holdfast.Agent;

/// <summary>
/// What one convergence pass did: how many driver operations changed something, the errors per VM, and the epochs of
/// VMs it failed to create (reported as <see cref="PowerState.Unknown"/> with their error, so the server sees why).
/// </summary>
public sealed record ConvergeResult(int Changes, IReadOnlyDictionary<string, string> Errors, IReadOnlyDictionary<string, long>? FailedCreates = null)
{
    public static ConvergeResult None { get; } = new(0, new Dictionary<string, string>());
}

/// <summary>
/// Level-based convergence of a driver to the server's desired list (controller-runtime's reconcile shape): delete
/// every VM that is not listed or is a copy of an older placement (a different fencing epoch), create what is missing,
/// then start or stop to the desired power state. A failed operation is recorded for that VM and retried next time.
/// Shared by <see cref="HostAgent"/> and the server's in-process fleet simulator, so both behave alike.
/// </summary>
public static class Convergence
{
    public static async Task<ConvergeResult> ConvergeAsync(IVmDriver driver, IReadOnlyList<DesiredInstance> desired, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(desired);
        var want = new Dictionary<string, DesiredInstance>(StringComparer.OrdinalIgnoreCase);
        foreach (var instance in desired)
        {
            want[instance.Id] = instance;
        }

        var errors = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var failedCreates = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        var changes = 0;
        var actual = new Dictionary<string, VmStatus>(StringComparer.OrdinalIgnoreCase);
        foreach (var vm in await driver.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (want.TryGetValue(vm.Id, out var wanted) && wanted.Epoch == vm.Epoch)
            {
                actual[vm.Id] = vm;
                continue;
            }

            // Not ours (any more), or a stale copy of an earlier placement: this is the fence.
            if (await TryAsync(vm.Id, errors, () => driver.DeleteAsync(vm.Id, cancellationToken)).ConfigureAwait(false))
            {
                changes++;
            }
        }

        foreach (var wanted in want.Values)
        {
            if (!actual.TryGetValue(wanted.Id, out var vm))
            {
                if (errors.ContainsKey(wanted.Id)
                    || !await TryAsync(wanted.Id, errors, () => driver.CreateAsync(new VmSpec(wanted.Id, wanted.Demand, wanted.Size, wanted.Epoch, wanted.Guest), cancellationToken)).ConfigureAwait(false))
                {
                    failedCreates[wanted.Id] = wanted.Epoch;
                    continue;
                }

                changes++;
                vm = new VmStatus(wanted.Id, PowerState.Stopped, wanted.Epoch, wanted.Demand, wanted.Size);
            }

            if (wanted.PowerState is PowerState.Running or PowerState.Starting && vm.PowerState != PowerState.Running)
            {
                changes += await TryAsync(wanted.Id, errors, () => driver.StartAsync(wanted.Id, cancellationToken)).ConfigureAwait(false) ? 1 : 0;
            }
            else if (wanted.PowerState is PowerState.Stopped or PowerState.Stopping or PowerState.Deallocated or PowerState.Deallocating && vm.PowerState == PowerState.Running)
            {
                changes += await TryAsync(wanted.Id, errors, () => driver.StopAsync(wanted.Id, cancellationToken)).ConfigureAwait(false) ? 1 : 0;
            }
        }

        return new ConvergeResult(changes, errors, failedCreates);
    }

    /// <summary>Stops every running VM (self-fencing: the server may already be re-placing them elsewhere).</summary>
    public static async Task<ConvergeResult> StopAllAsync(IVmDriver driver, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(driver);
        var errors = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var changes = 0;
        foreach (var vm in await driver.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (vm.PowerState != PowerState.Stopped)
            {
                changes += await TryAsync(vm.Id, errors, () => driver.StopAsync(vm.Id, cancellationToken)).ConfigureAwait(false) ? 1 : 0;
            }
        }

        return new ConvergeResult(changes, errors);
    }

    /// <summary>The driver's VMs as a heartbeat reports them, with the last pass's error of each (and the VMs it could not create).</summary>
    public static async Task<IReadOnlyList<InstanceReport>> ReportAsync(IVmDriver driver, ConvergeResult last, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(last);
        var vms = await driver.ListAsync(cancellationToken).ConfigureAwait(false);
        var reports = vms.Select(vm => new InstanceReport(vm.Id, vm.PowerState, vm.Epoch, vm.Error ?? last.Errors.GetValueOrDefault(vm.Id))).ToList();
        foreach (var (id, epoch) in last.FailedCreates ?? new Dictionary<string, long>())
        {
            if (!vms.Any(vm => string.Equals(vm.Id, id, StringComparison.OrdinalIgnoreCase)))
            {
                reports.Add(new InstanceReport(id, PowerState.Unknown, epoch, last.Errors.GetValueOrDefault(id)));
            }
        }

        return reports;
    }

    private static async Task<bool> TryAsync(string id, Dictionary<string, string> errors, Func<Task> operation)
    {
        try
        {
            await operation().ConfigureAwait(false);
            return true;
        }
        catch (VmDriverException ex)
        {
            errors[id] = ex.Message;
            return false;
        }
    }
}
