using System.Security.Cryptography;
using System.Text;
using Holdfast.Agent.Drivers.Qemu;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Holdfast.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Holdfast.Agent.Tests.Drivers.Qemu;

/// <summary>
/// The qemu driver against real QEMU (TCG) and the test image: the guest boots and reads its NoCloud seed, gets the
/// allocated address from user-mode DHCP, powers off on the ACPI button, is reset over QMP, is re-adopted by a new
/// driver on the same directory, and leaves nothing behind when deleted.
/// </summary>
[Trait("Category", "Qemu")]
public sealed class QemuVmDriverTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(120);
    private static readonly CapacityVector Small = new(1, 1024, 4, 0);
    private readonly TempDirectory _directory = new();
    private QemuVmDriver _driver = null!;

    public async Task InitializeAsync()
    {
        if (QemuTestImage.MissingReason is not null)
        {
            return;
        }

        var image = await QemuTestImage.EnsureBuiltAsync();
        await new ImageStore(_directory.Path).ImportAsync("default", null, Path.Combine(image, "vmlinuz"), Path.Combine(image, "initrd.cpio.gz"), null, 1, "qemu-img", CancellationToken.None);
        _driver = NewDriver();
    }

    public async Task DisposeAsync()
    {
        if (_driver is not null)
        {
            foreach (var vm in await _driver.ListAsync(CancellationToken.None))
            {
                await _driver.DeleteAsync(vm.Id, CancellationToken.None);
            }
        }
    }

    public void Dispose() => _directory.Dispose();

    [QemuFact]
    public async Task Start_RealGuest_BootsWithItsSeedAndAddress_ThenStopsGracefully()
    {
        var customData = Encoding.UTF8.GetBytes("#!/bin/sh\necho custom data for vm-a\n");
        var guest = new GuestSpec
        {
            ComputerName = "guest-a",
            AdminUsername = "azureuser",
            SshPublicKeys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample test@holdfast"],
            CustomData = Convert.ToBase64String(customData),
            PrivateIpAddress = "10.20.0.7",
            SubnetPrefix = "10.20.0.0/24",
            DataDisks = [new GuestDataDisk(0, 2)],
        };

        await _driver.CreateAsync(new VmSpec("vm-a", Small, "Standard_B1s", 4, guest), CancellationToken.None);
        Assert.Equal(PowerState.Stopped, Assert.Single(await _driver.ListAsync(CancellationToken.None)).PowerState);
        await _driver.StartAsync("vm-a", CancellationToken.None);

        var marker = $"HOLDFAST-BOOT-OK name=guest-a customdata-sha256={Convert.ToHexStringLower(SHA256.HashData(customData))}";
        await WaitForConsoleAsync("vm-a", marker, 1);
        await WaitForConsoleAsync("vm-a", "HOLDFAST-NET ip=10.20.0.7", 1);
        var running = Assert.Single(await _driver.ListAsync(CancellationToken.None));
        Assert.Equal((PowerState.Running, 4L), (running.PowerState, running.Epoch));
        Assert.True(File.Exists(Path.Combine(_directory.Path, "vms", "vm-a", "data-0.qcow2")));

        await _driver.StopAsync("vm-a", CancellationToken.None);

        Assert.Equal(PowerState.Stopped, Assert.Single(await _driver.ListAsync(CancellationToken.None)).PowerState);
        Assert.Contains("HOLDFAST-ACPI-POWERBUTTON", _driver.ReadConsole("vm-a"), StringComparison.Ordinal);
        Assert.Null(_driver.ProcessIdOf("vm-a"));
    }

    [QemuFact]
    public async Task Restart_AndANewDriver_ResetTheGuestAndReadoptTheSameProcess()
    {
        await _driver.CreateAsync(new VmSpec("vm-b", Small, "Standard_B1s", 1, new GuestSpec { ComputerName = "guest-b" }), CancellationToken.None);
        await _driver.StartAsync("vm-b", CancellationToken.None);
        await WaitForConsoleAsync("vm-b", "HOLDFAST-BOOT-OK name=guest-b", 1);
        var pid = _driver.ProcessIdOf("vm-b");
        Assert.NotNull(pid);

        await _driver.RestartAsync("vm-b", CancellationToken.None);
        await WaitForConsoleAsync("vm-b", "HOLDFAST-BOOT-OK name=guest-b", 2);
        Assert.Equal(pid, _driver.ProcessIdOf("vm-b"));

        // What an agent restart does: a new driver on the same directory finds the running VM, same QEMU.
        var adopted = NewDriver();
        Assert.Equal(pid, adopted.ProcessIdOf("vm-b"));
        Assert.Equal(PowerState.Running, Assert.Single(await adopted.ListAsync(CancellationToken.None)).PowerState);

        await adopted.DeleteAsync("vm-b", CancellationToken.None);
        Assert.Empty(await _driver.ListAsync(CancellationToken.None));
        Assert.False(Directory.Exists(Path.Combine(_directory.Path, "vms", "vm-b")));
        Assert.False(File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("vm-b", StringComparison.Ordinal));
    }

    [QemuFact]
    public async Task Create_UnknownImageAndNoDefault_IsRefusedAndLeavesNothing()
    {
        var driver = new QemuVmDriver(Options() with { DefaultImage = null }, TimeProvider.System, NullLogger<QemuVmDriver>.Instance);

        var refused = await Assert.ThrowsAsync<VmDriverException>(() => driver.CreateAsync(new VmSpec("vm-c", Small, null, 1, new GuestSpec { Image = "Canonical:ubuntu:22_04:latest" }), CancellationToken.None));

        Assert.Contains("No image", refused.Message, StringComparison.Ordinal);
        Assert.Empty(await driver.ListAsync(CancellationToken.None));
    }

    private QemuVmDriver NewDriver() => new(Options(), TimeProvider.System, NullLogger<QemuVmDriver>.Instance);

    private QemuVmDriverOptions Options() => new()
    {
        DataDirectory = _directory.Path,
        Capacity = new CapacityVector(4, 8192, 100, 0),
        Accelerator = "tcg",
        MaxVcpus = 1,
        ShutdownTimeout = TimeSpan.FromSeconds(30),
    };

    private async Task WaitForConsoleAsync(string id, string text, int count)
    {
        using var timeout = new CancellationTokenSource(BootTimeout);
        while (Occurrences(_driver.ReadConsole(id) ?? "", text) < count)
        {
            if (timeout.IsCancellationRequested)
            {
                throw new TimeoutException($"VM {id} did not print '{text}' {count} time(s) within {BootTimeout}. Console:\n{_driver.ReadConsole(id)}");
            }

            await Task.Delay(200, CancellationToken.None);
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
}
