using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using Holdfast.Server.IntegrationTests.Infrastructure;
using Holdfast.Testing;

namespace Holdfast.Server.IntegrationTests.Agents;

/// <summary>
/// Issue 7's acceptance: the real server, one real <c>holdfast agent --driver qemu</c> process, and a VM created with
/// the official Azure SDK that boots for real under QEMU (TCG) from the test image. Its serial console, read through
/// boot diagnostics, shows the computer name and customData hash it got from the NoCloud seed and the private IP the
/// network provider allocated; the agent is killed (-9) and restarted and re-adopts the same QEMU process; powerOff,
/// start, restart, deallocate and delete act on the real process. One VM at a time; everything stopped at the end.
/// </summary>
[Trait("Category", "Qemu")]
public sealed class QemuAgentTests : IAsyncLifetime
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(120);
    private static readonly AzureLocation Local = new("local");
    private ServerProcess? _server;
    private FleetApi? _fleet;
    private AgentProcess? _agent;
    private string _imageDirectory = "";

    public async Task InitializeAsync()
    {
        if (QemuTestImage.MissingReason is not null)
        {
            return;
        }

        _imageDirectory = await QemuTestImage.EnsureBuiltAsync();
        _server = await ServerProcess.StartAsync(null, "--heartbeat-seconds", "1");
        _fleet = await FleetApi.ConnectAsync(_server);
    }

    public async Task DisposeAsync()
    {
        if (_agent is not null)
        {
            _agent.Kill();
            KillVms(_agent.StateDirectory);
            await _agent.DisposeAsync();
        }

        _fleet?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [QemuFact]
    public async Task SdkVm_OnQemuAgent_BootsShowsItsConsoleSurvivesAnAgentKillAndFollowsPowerActions()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(6));
        var token = cancel.Token;
        await _fleet!.CreateFleetAsync("q1");
        var stateDirectory = Path.Combine(_server!.DataDirectory + "-agents", "q1");
        var (imported, importOutput) = await ServerProcess.RunToExitAsync(
            "image", "import", "--data-dir", stateDirectory, "--name", "default", "--kernel", Path.Combine(_imageDirectory, "vmlinuz"), "--initrd", Path.Combine(_imageDirectory, "initrd.cpio.gz"));
        Assert.True(imported == 0, importOutput);
        _agent = await AgentProcess.StartAsync(_server, "q1", await _fleet.CreateJoinTokenAsync("q1"), "--driver", "qemu", "--qemu-accel", "tcg", "--qemu-max-vcpus", "1", "--qemu-shutdown-timeout-seconds", "30");
        await _fleet.WaitForStateAsync("q1", "InService", BootTimeout);
        Assert.Equal("qemu", (await _fleet.GetHostAsync("q1")).GetProperty("agent").GetProperty("driver").GetString());

        var arm = Clients.Arm(_server.Credentials);
        var subscription = await arm.GetDefaultSubscriptionAsync(token);
        var group = (await subscription.GetResourceGroups().CreateOrUpdateAsync(WaitUntil.Completed, "qemu", new ResourceGroupData(Local), token)).Value;
        var resources = arm.GetGenericResources();
        var vnetId = new ResourceIdentifier($"{group.Id}/providers/Microsoft.Network/virtualNetworks/vnet1");
        await resources.CreateOrUpdateAsync(WaitUntil.Completed, vnetId, new GenericResourceData(Local)
        {
            Properties = BinaryData.FromString("""{"addressSpace":{"addressPrefixes":["10.60.0.0/16"]},"subnets":[{"name":"default","properties":{"addressPrefix":"10.60.1.0/24"}}]}"""),
        }, token);
        var nicId = new ResourceIdentifier($"{group.Id}/providers/Microsoft.Network/networkInterfaces/vm1-nic");
        await resources.CreateOrUpdateAsync(WaitUntil.Completed, nicId, new GenericResourceData(Local)
        {
            Properties = BinaryData.FromObjectAsJson(new { ipConfigurations = new[] { new { name = "ipconfig1", properties = new { subnet = new { id = $"{vnetId}/subnets/default" } } } } }),
        }, token);

        var customData = Encoding.UTF8.GetBytes("#cloud-config\nruncmd:\n  - echo holdfast-qemu-e2e\n");
        var data = new VirtualMachineData(Local)
        {
            HardwareProfile = new VirtualMachineHardwareProfile { VmSize = VirtualMachineSizeType.StandardB1S },
            StorageProfile = new VirtualMachineStorageProfile
            {
                ImageReference = new ImageReference { Publisher = "Debian", Offer = "debian-12", Sku = "12-gen2", Version = "latest" },
                OSDisk = new VirtualMachineOSDisk(DiskCreateOptionType.FromImage) { DeleteOption = DiskDeleteOptionType.Delete },
            },
            OSProfile = new VirtualMachineOSProfile
            {
                ComputerName = "qemu-vm1",
                AdminUsername = "azureuser",
                CustomData = Convert.ToBase64String(customData),
                LinuxConfiguration = new LinuxConfiguration { IsPasswordAuthenticationDisabled = true },
            },
            NetworkProfile = new VirtualMachineNetworkProfile(),
        };
        data.OSProfile.LinuxConfiguration.SshPublicKeys.Add(new SshPublicKeyConfiguration { Path = "/home/azureuser/.ssh/authorized_keys", KeyData = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHoldfastE2e test@holdfast" });
        data.NetworkProfile.NetworkInterfaces.Add(new VirtualMachineNetworkInterfaceReference { Id = nicId, Primary = true });
        var vm = (await group.GetVirtualMachines().CreateOrUpdateAsync(WaitUntil.Completed, "vm1", data, cancellationToken: token)).Value;
        Assert.Equal("Succeeded", vm.Data.ProvisioningState);
        Assert.Null(vm.Data.OSProfile.CustomData);
        var vmDirectory = Path.Combine(stateDirectory, "vms", vm.Data.VmId!.ToLowerInvariant());

        // It really booted, with its own name, customData and address: the guest says so on its serial console.
        string privateIp;
        using (var nic = JsonDocument.Parse((await resources.GetAsync(nicId, token)).Value.Data.Properties.ToString()))
        {
            privateIp = nic.RootElement.GetProperty("ipConfigurations")[0].GetProperty("properties").GetProperty("privateIPAddress").GetString()!;
        }

        var marker = $"HOLDFAST-BOOT-OK name=qemu-vm1 customdata-sha256={Convert.ToHexStringLower(SHA256.HashData(customData))}";
        using var http = await Clients.AuthenticatedHttpAsync(_server.Credentials);
        await WaitForConsoleAsync(vm, http, marker, 1, token);
        await WaitForConsoleAsync(vm, http, $"HOLDFAST-NET ip={privateIp}", 1, token);
        var view = (await vm.InstanceViewAsync(token)).Value;
        Assert.Contains(view.Statuses, s => s.Code == "PowerState/running");
        Assert.NotNull(view.BootDiagnostics?.SerialConsoleLogBlobUri);
        Assert.DoesNotContain(data.OSProfile.CustomData, _agent.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("holdfast-qemu-e2e", _agent.Output, StringComparison.Ordinal);

        // kill -9 of the agent: the VM keeps running, and the restarted agent re-adopts the same QEMU process.
        var pid = ReadPid(vmDirectory);
        await _agent.RestartAsync();
        Assert.True(IsAlive(pid), "QEMU died with its agent.");
        await _agent.WaitForOutputAsync("Adopted VM " + vm.Data.VmId!.ToLowerInvariant(), BootTimeout);
        await _agent.WaitForOutputAsync("Host q1 is InService", BootTimeout);
        Assert.Equal(pid, ReadPid(vmDirectory));
        Assert.Contains((await vm.InstanceViewAsync(token)).Value.Statuses, s => s.Code == "PowerState/running");

        // powerOff: an ACPI shutdown the guest acts on; the process is gone and the instance view says stopped.
        await vm.PowerOffAsync(WaitUntil.Completed, cancellationToken: token);
        Assert.Contains((await vm.InstanceViewAsync(token)).Value.Statuses, s => s.Code == "PowerState/stopped");
        Assert.False(IsAlive(pid), "QEMU still runs after powerOff.");
        await WaitForConsoleAsync(vm, http, "HOLDFAST-ACPI-POWERBUTTON", 1, token);

        await vm.PowerOnAsync(WaitUntil.Completed, token);
        await WaitForConsoleAsync(vm, http, marker, 2, token);
        var restartedPid = ReadPid(vmDirectory);
        Assert.NotEqual(pid, restartedPid);

        await vm.RestartAsync(WaitUntil.Completed, cancellationToken: token);
        Assert.Contains((await vm.InstanceViewAsync(token)).Value.Statuses, s => s.Code == "PowerState/running");
        await WaitForConsoleAsync(vm, http, marker, 3, token);

        // deallocate releases the host: the process and the VM's files are gone.
        await vm.DeallocateAsync(WaitUntil.Completed, cancellationToken: token);
        Assert.Contains((await vm.InstanceViewAsync(token)).Value.Statuses, s => s.Code == "PowerState/deallocated");
        await WaitUntilAsync(() => !Directory.Exists(vmDirectory), "the deallocated VM's directory to be removed", token);
        Assert.False(IsAlive(restartedPid), "QEMU still runs after deallocate.");

        await vm.PowerOnAsync(WaitUntil.Completed, token);
        await WaitForConsoleAsync(vm, http, marker, 1, token);
        var lastPid = ReadPid(vmDirectory);
        await vm.DeleteAsync(WaitUntil.Completed, cancellationToken: token);
        await WaitUntilAsync(() => !Directory.Exists(vmDirectory), "the deleted VM's directory to be removed", token);
        Assert.False(IsAlive(lastPid), "QEMU still runs after delete.");
        Assert.Empty(Directory.GetDirectories(Path.Combine(stateDirectory, "vms")));
    }

    private static async Task WaitForConsoleAsync(VirtualMachineResource vm, HttpClient http, string text, int count, CancellationToken cancellationToken)
    {
        var uri = (await vm.RetrieveBootDiagnosticsDataAsync(cancellationToken: cancellationToken)).Value.SerialConsoleLogBlobUri;
        var deadline = Stopwatch.StartNew();
        var console = "";
        while (Occurrences(console, text) < count)
        {
            if (deadline.Elapsed > BootTimeout)
            {
                throw new TimeoutException($"The console did not show '{text}' {count} time(s) within {BootTimeout}:\n{console}");
            }

            await Task.Delay(500, cancellationToken);
            using var response = await http.GetAsync(uri, cancellationToken);
            Assert.True(response.IsSuccessStatusCode, $"GET {uri}: {(int)response.StatusCode}");
            console = await response.Content.ReadAsStringAsync(cancellationToken);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > BootTimeout)
            {
                throw new TimeoutException($"Waited {BootTimeout} for {what}.");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    private static int Occurrences(string haystack, string needle)
    {
        var count = 0;
        for (var at = haystack.IndexOf(needle, StringComparison.Ordinal); at >= 0; at = haystack.IndexOf(needle, at + needle.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static int ReadPid(string vmDirectory) => int.Parse(File.ReadAllText(Path.Combine(vmDirectory, "qemu.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X') && File.ReadAllText($"/proc/{pid}/cmdline").Contains("qemu", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Stops any QEMU this test's agent left running (by the pids in its VM directories).</summary>
    private static void KillVms(string stateDirectory)
    {
        var vms = Path.Combine(stateDirectory, "vms");
        foreach (var pidFile in Directory.Exists(vms) ? Directory.GetFiles(vms, "qemu.pid", SearchOption.AllDirectories) : [])
        {
            if (int.TryParse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture, out var pid) && IsAlive(pid)
                && File.ReadAllText($"/proc/{pid}/cmdline").Contains(stateDirectory, StringComparison.Ordinal))
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
                process.WaitForExit(10_000);
            }
        }
    }
}
