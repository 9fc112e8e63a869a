using Azure;
using Azure.Core;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using Holdfast.Server.IntegrationTests.Infrastructure;

namespace Holdfast.Server.IntegrationTests.Agents;

/// <summary>
/// Issue 4's acceptance, end to end with separate processes: three real <c>holdfast agent</c> processes (simulated
/// driver) join the real server; VMs created with the official Azure SDK run on them; one agent is killed (-9), its
/// host goes Failed and its VMs come back on the others at a new epoch; restarted, it is fenced (its stale VMs are
/// deleted). At no point does a VM run on two live hosts.
/// </summary>
public sealed class AgentHealingTests : AgentFleetTest
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private static readonly AzureLocation Local = new("local");

    [Fact]
    public async Task KilledAgent_ItsVmsComeBackElsewhere_AndTheRestartedAgentIsFenced()
    {
        string[] hosts = ["h1", "h2", "h3"];
        await Fleet.CreateFleetAsync(hosts);
        foreach (var host in hosts)
        {
            Agents.Add(await AgentProcess.StartAsync(ControlPlane, host, await Fleet.CreateJoinTokenAsync(host)));
        }

        foreach (var host in hosts)
        {
            await Fleet.WaitForStateAsync(host, "InService", Timeout);
        }

        var arm = Clients.Arm(ControlPlane.Credentials);
        var subscription = await arm.GetDefaultSubscriptionAsync();
        var group = (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, "heal", new ResourceGroupData(Local))).Value;
        string[] names = ["vm1", "vm2", "vm3"];
        foreach (var name in names)
        {
            await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, name, VmData(name));
        }

        var before = await WaitForVmsAsync(Agents, names.Length);
        var victim = Agents.First(a => before.Any(v => v.Host == a.HostName));
        var moved = before.Where(v => v.Host == victim.HostName).ToList();

        victim.Kill();
        await Fleet.WaitForStateAsync(victim.HostName, "Failed", Timeout);

        var survivors = Agents.Where(a => a != victim).ToList();
        var after = await WaitForVmsAsync(survivors, names.Length);
        foreach (var vm in moved)
        {
            var now = Assert.Single(after, v => v.Vm.Id == vm.Vm.Id);
            Assert.NotEqual(victim.HostName, now.Host);
            Assert.True(now.Vm.Epoch > vm.Vm.Epoch, $"{vm.Vm.Id} moved at epoch {now.Vm.Epoch}, was {vm.Vm.Epoch}");
        }

        // Its stale copies are still in the dead agent's file until it comes back: restarted, it deletes them.
        Assert.Equal(moved.Count, (await victim.ReadVmsAsync()).Count);
        await victim.RestartAsync();
        await WaitUntilAsync(async () => (await victim.ReadVmsAsync()).Count == 0, "the restarted agent to delete its stale VMs");
        Assert.Equal("Failed", await Fleet.StateOfAsync(victim.HostName));
        Assert.Equal(names.Length, (await WaitForVmsAsync(survivors, names.Length)).Count);

        foreach (var name in names)
        {
            var view = (await (await group.GetVirtualMachines().GetAsync(name)).Value.InstanceViewAsync()).Value;
            Assert.Contains(view.Statuses, s => s.Code == "PowerState/running");
        }
    }

    /// <summary>Waits until exactly <paramref name="count"/> VMs run across the agents, none on two; returns where each runs.</summary>
    private static async Task<List<(string Host, SimulatedVm Vm)>> WaitForVmsAsync(IReadOnlyList<AgentProcess> agents, int count)
    {
        List<(string Host, SimulatedVm Vm)> running = [];
        await WaitUntilAsync(
            async () =>
            {
                running = [];
                foreach (var agent in agents)
                {
                    running.AddRange((await agent.ReadVmsAsync()).Where(v => v.PowerState == "Running").Select(v => (agent.HostName, v)));
                }

                Assert.True(running.Select(r => r.Vm.Id).Distinct(StringComparer.OrdinalIgnoreCase).Count() == running.Count, "A VM runs on two live hosts: " + string.Join(", ", running));
                return running.Count == count;
            },
            $"{count} VMs running on {string.Join(", ", agents.Select(a => a.HostName))}");
        return running;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        using var cancel = new CancellationTokenSource(Timeout);
        while (!await condition())
        {
            if (cancel.IsCancellationRequested)
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            await Task.Delay(200, CancellationToken.None);
        }
    }

    private static VirtualMachineData VmData(string name) => new(Local)
    {
        HardwareProfile = new VirtualMachineHardwareProfile { VmSize = VirtualMachineSizeType.StandardD2SV3 },
        StorageProfile = new VirtualMachineStorageProfile
        {
            ImageReference = new ImageReference { Publisher = "Canonical", Offer = "0001-com-ubuntu-server-jammy", Sku = "22_04-lts-gen2", Version = "latest" },
            OSDisk = new VirtualMachineOSDisk(DiskCreateOptionType.FromImage),
        },
        OSProfile = new VirtualMachineOSProfile { ComputerName = name, AdminUsername = "azureuser", AdminPassword = "Sdk-Passw0rd!" },
    };
}
