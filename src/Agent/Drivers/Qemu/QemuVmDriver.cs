using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Holdfast.Capacity.Inventory;
using Holdfast.Fabric;
using Holdfast.Fabric.Protocol;
using Microsoft.Extensions.Logging;

namespace Holdfast.Agent.Drivers.Qemu;

/// <summary>How a <see cref="QemuVmDriver"/> runs (docs/drivers.md).</summary>
public sealed record QemuVmDriverOptions
{
    /// <summary>The agent's data (state) directory: VMs live in <c>vms/{id}</c>, images in <c>images/{name}</c>.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>What the host offers the placement service.</summary>
    public required CapacityVector Capacity { get; init; }

    public IReadOnlyList<string> Traits { get; init; } = [];

    public string AgentVersion { get; init; } = "0.0.0";

    /// <summary><c>tcg</c> (software emulation) or <c>kvm</c>; see <see cref="QemuAcceleratorProbe"/>.</summary>
    public string Accelerator { get; init; } = "tcg";

    /// <summary>Guest memory = the size's memory × this factor (at least <see cref="MinMemoryMiB"/>): small on test machines.</summary>
    public double MemoryScale { get; init; } = 1.0 / 8;

    public int MinMemoryMiB { get; init; } = 128;

    /// <summary>Guest vCPUs = the size's vCPUs, at most this many.</summary>
    public int MaxVcpus { get; init; } = Environment.ProcessorCount;

    /// <summary>The image used when a VM's image reference matches no image in the store; null refuses such VMs.</summary>
    public string? DefaultImage { get; init; } = "default";

    /// <summary>How long a graceful shutdown (ACPI power button) may take before QEMU is stopped hard.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The console log file is cut back to its last <see cref="GuestSpec.MaxConsoleBytes"/> when it grows past this.</summary>
    public long ConsoleLogLimitBytes { get; init; } = 1024 * 1024;

    public string QemuPath { get; init; } = "qemu-system-x86_64";

    public string QemuImgPath { get; init; } = "qemu-img";

    public string GenIsoImagePath { get; init; } = "genisoimage";
}

/// <summary>
/// Real VMs: one <c>qemu-system-x86_64</c> per VM, started detached (<c>-daemonize</c>, pidfile), so it outlives an
/// agent restart, and managed over QMP on a unix socket in the VM's directory. Every state is read from QEMU, never
/// assumed: a VM whose process is alive is what <c>query-status</c> says; one whose process is gone is stopped. A
/// restarted agent re-adopts its VMs simply by reading their directories (pid verified against the process's command
/// line, QMP reconnected). OS disks are qcow2 overlays on a base image from the local <see cref="ImageStore"/>; data
/// disks are qcow2 files; osProfile is a cloud-init NoCloud seed ISO; the serial console goes to a bounded log file;
/// the NIC is user-mode networking handing out the private IP the network provider allocated.
/// </summary>
public sealed partial class QemuVmDriver : IVmDriver, IVmConsoleSource
{
    public const string DriverName = "qemu";

    private readonly QemuVmDriverOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ImageStore _images;
    private readonly string _vmsRoot;
    private readonly Dictionary<string, SemaphoreSlim> _gates = new(StringComparer.OrdinalIgnoreCase);

    public QemuVmDriver(QemuVmDriverOptions options, TimeProvider time, ILogger<QemuVmDriver> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options;
        _time = time;
        _logger = logger;
        _images = new ImageStore(options.DataDirectory);
        _vmsRoot = Path.Combine(options.DataDirectory, "vms");
        Directory.CreateDirectory(_vmsRoot);
        Inventory = new HostInventory(options.Capacity, options.Traits, DriverName, Simulated: false, options.AgentVersion);
        foreach (var leftover in Directory.GetDirectories(_vmsRoot, ".creating-*"))
        {
            Directory.Delete(leftover, recursive: true);
        }

        // Re-adoption: whatever runs from a VM directory is this agent's, found by pid and command line.
        foreach (var record in Records())
        {
            if (LivePid(record.Id) is { } pid)
            {
                LogAdopted(_logger, record.Id, pid);
            }
        }
    }

    public HostInventory Inventory { get; }

    /// <summary>The pid of the VM's QEMU when it runs (what a test compares across an agent restart); null otherwise.</summary>
    public int? ProcessIdOf(string id) => LivePid(id);

    public async Task CreateAsync(VmSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ValidateId(spec.Id);
        using var held = await LockAsync(spec.Id, cancellationToken).ConfigureAwait(false);
        var final = Dir(spec.Id);
        if (Directory.Exists(final))
        {
            throw new VmDriverException($"VM '{spec.Id}' already exists.");
        }

        var guest = spec.Guest ?? new GuestSpec();
        var image = ResolveImage(guest.Image);
        var staging = Path.Combine(_vmsRoot, ".creating-" + spec.Id);
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        Directory.CreateDirectory(staging);
        try
        {
            var osDisk = Path.Combine(staging, "os.qcow2");
            var info = await ProcessRunner.RunAsync(_options.QemuImgPath, ["info", "--output=json", image.Disk], TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            var baseBytes = System.Text.Json.JsonDocument.Parse(info).RootElement.GetProperty("virtual-size").GetInt64();
            var wanted = guest.OsDiskSizeGb is { } gb ? (long)gb * 1024 * 1024 * 1024 : 0;
            List<string> create = ["create", "-q", "-f", "qcow2", "-b", image.Disk, "-F", image.DiskFormat, osDisk];
            if (wanted > baseBytes)
            {
                create.Add(wanted.ToString(CultureInfo.InvariantCulture));
            }

            await ProcessRunner.RunAsync(_options.QemuImgPath, create, TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
            foreach (var disk in guest.DataDisks)
            {
                await ProcessRunner.RunAsync(_options.QemuImgPath, ["create", "-q", "-f", "qcow2", Path.Combine(staging, $"data-{disk.Lun}.qcow2"), $"{Math.Max(1, disk.SizeGb)}G"], TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
            }

            await CloudInitSeed.BuildAsync(Path.Combine(staging, "seed.iso"), spec.Id, guest, _options.GenIsoImagePath, cancellationToken).ConfigureAwait(false);
            var record = new QemuVmRecord
            {
                Id = spec.Id,
                Epoch = spec.Epoch,
                Demand = spec.Demand,
                Size = spec.Size,
                Image = image.Name,
                Kernel = image.Kernel,
                Initrd = image.Initrd,
                KernelCommandLine = image.KernelCommandLine,
                Vcpus = Math.Clamp(spec.Demand.VCpus, 1, Math.Max(1, _options.MaxVcpus)),
                MemoryMiB = Math.Max(_options.MinMemoryMiB, (int)Math.Round(spec.Demand.MemoryMiB * _options.MemoryScale)),
                DataDiskLuns = [.. guest.DataDisks.Select(d => d.Lun).Order()],
                PrivateIpAddress = guest.PrivateIpAddress,
                SubnetPrefix = guest.SubnetPrefix,
                Mac = MacOf(spec.Id),
            };
            AgentFiles.WriteAtomic(Path.Combine(staging, "vm.json"), FabricJson.Serialize(record), isPrivate: true);
            Directory.Move(staging, final);
            LogCreated(_logger, spec.Id, image.Name, record.Vcpus, record.MemoryMiB);
        }
        catch
        {
            Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    public async Task StartAsync(string id, CancellationToken cancellationToken)
    {
        using var held = await LockAsync(id, cancellationToken).ConfigureAwait(false);
        try
        {
            var record = Read(id) ?? throw new VmDriverException($"VM '{id}' does not exist.");
            if (LivePid(id) is not null)
            {
                return;
            }

            var dir = Dir(id);
            File.Delete(Path.Combine(dir, "qmp.sock"));
            File.Delete(Path.Combine(dir, "qemu.pid"));
            await File.AppendAllTextAsync(Path.Combine(dir, "console.log"), $"\n[holdfast] qemu starting at {_time.GetUtcNow():O}\n", cancellationToken).ConfigureAwait(false);
            await ProcessRunner.RunAsync(_options.QemuPath, Arguments(record, dir), TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
            var pid = LivePid(id) ?? throw new VmDriverException($"QEMU for VM '{id}' exited at once; see its console log.");
            await using (var qmp = await QmpClient.ConnectAsync(Path.Combine(dir, "qmp.sock"), TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false))
            {
                await qmp.QueryStatusAsync(cancellationToken).ConfigureAwait(false);
            }

            LogStarted(_logger, id, pid, _options.Accelerator);
        }
        catch (QmpException ex)
        {
            throw new VmDriverException($"VM '{id}' started but QMP failed: {ex.Message}", ex);
        }
    }

    /// <summary>Graceful: the ACPI power button, then (after <see cref="QemuVmDriverOptions.ShutdownTimeout"/>) a hard stop.</summary>
    public async Task StopAsync(string id, CancellationToken cancellationToken)
    {
        using var held = await LockAsync(id, cancellationToken).ConfigureAwait(false);
        _ = Read(id) ?? throw new VmDriverException($"VM '{id}' does not exist.");
        await ShutdownAsync(id, graceful: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Power off at once (QMP <c>quit</c>, then SIGKILL): Azure's powerOff with skipShutdown.</summary>
    public async Task PowerOffAsync(string id, CancellationToken cancellationToken)
    {
        using var held = await LockAsync(id, cancellationToken).ConfigureAwait(false);
        await ShutdownAsync(id, graceful: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A reset (QMP <c>system_reset</c>) of a running VM; a stopped one is started.</summary>
    public async Task RestartAsync(string id, CancellationToken cancellationToken)
    {
        if (LivePid(id) is null)
        {
            await StartAsync(id, cancellationToken).ConfigureAwait(false);
            return;
        }

        using var held = await LockAsync(id, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var qmp = await QmpClient.ConnectAsync(Path.Combine(Dir(id), "qmp.sock"), TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            await qmp.ExecuteAsync("system_reset", null, cancellationToken).ConfigureAwait(false);
        }
        catch (QmpException ex)
        {
            throw new VmDriverException($"Resetting VM '{id}' failed: {ex.Message}", ex);
        }
    }

    /// <summary>Stops the VM hard and removes its directory: disks, seed, console. A VM that does not exist is a no-op.</summary>
    public async Task DeleteAsync(string id, CancellationToken cancellationToken)
    {
        using var held = await LockAsync(id, cancellationToken).ConfigureAwait(false);
        if (!Directory.Exists(Dir(id)))
        {
            return;
        }

        await ShutdownAsync(id, graceful: false, cancellationToken).ConfigureAwait(false);
        Directory.Delete(Dir(id), recursive: true);
        LogDeleted(_logger, id);
    }

    public async Task<IReadOnlyList<VmStatus>> ListAsync(CancellationToken cancellationToken)
    {
        var list = new List<VmStatus>();
        foreach (var record in Records())
        {
            using var held = await LockAsync(record.Id, cancellationToken).ConfigureAwait(false);
            var (power, error) = await ObserveAsync(record.Id, cancellationToken).ConfigureAwait(false);
            list.Add(new VmStatus(record.Id, power, record.Epoch, record.Demand, record.Size, error));
            BoundConsole(record.Id);
        }

        return list;
    }

    public string? ReadConsole(string id)
    {
        var path = Path.Combine(Dir(id), "console.log");
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var length = Math.Min(stream.Length, GuestSpec.MaxConsoleBytes);
            stream.Seek(-length, SeekOrigin.End);
            var bytes = new byte[length];
            stream.ReadExactly(bytes);
            return Encoding.UTF8.GetString(bytes);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private async Task<(PowerState Power, string? Error)> ObserveAsync(string id, CancellationToken cancellationToken)
    {
        if (LivePid(id) is null)
        {
            return (PowerState.Stopped, null);
        }

        try
        {
            await using var qmp = await QmpClient.ConnectAsync(Path.Combine(Dir(id), "qmp.sock"), TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            var status = await qmp.QueryStatusAsync(cancellationToken).ConfigureAwait(false);
            return status switch
            {
                "running" => (PowerState.Running, null),
                "shutdown" => (PowerState.Stopping, null),
                "prelaunch" or "inmigrate" or "paused" or "restore-vm" or "debug" => (PowerState.Starting, null),
                _ => (PowerState.Unknown, $"QEMU reports the VM as '{status}'."),
            };
        }
        catch (Exception ex) when (ex is QmpException or System.Net.Sockets.SocketException or OperationCanceledException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return LivePid(id) is null ? (PowerState.Stopped, null) : (PowerState.Unknown, $"QMP of VM '{id}' does not answer: {ex.Message}");
        }
    }

    private async Task ShutdownAsync(string id, bool graceful, CancellationToken cancellationToken)
    {
        if (LivePid(id) is not { } pid)
        {
            return;
        }

        var socket = Path.Combine(Dir(id), "qmp.sock");
        if (graceful)
        {
            try
            {
                await using var qmp = await QmpClient.ConnectAsync(socket, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
                await qmp.ExecuteAsync("system_powerdown", null, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is QmpException or System.Net.Sockets.SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                LogQmpFailed(_logger, id, "system_powerdown", ex.Message);
            }

            if (await WaitForExitAsync(id, pid, _options.ShutdownTimeout, cancellationToken).ConfigureAwait(false))
            {
                LogStopped(_logger, id, pid, "graceful");
                return;
            }
        }

        try
        {
            await using var qmp = await QmpClient.ConnectAsync(socket, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            await qmp.ExecuteAsync("quit", null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is QmpException or System.Net.Sockets.SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogQmpFailed(_logger, id, "quit", ex.Message);
        }

        if (await WaitForExitAsync(id, pid, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false))
        {
            LogStopped(_logger, id, pid, graceful ? "quit after the shutdown timeout" : "quit");
            return;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Gone meanwhile.
        }

        if (!await WaitForExitAsync(id, pid, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false))
        {
            throw new VmDriverException($"QEMU (pid {pid}) of VM '{id}' did not stop.");
        }

        LogStopped(_logger, id, pid, "killed");
    }

    /// <summary>
    /// Waits until QEMU <paramref name="pid"/> is gone. By the pid, not the pidfile: QEMU removes its pidfile while it
    /// is still exiting, and a VM's directory must not be deleted under a QEMU that still has it open.
    /// </summary>
    private async Task<bool> WaitForExitAsync(string id, int pid, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (IsVmProcess(pid, id))
        {
            if (deadline.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>The pid in the VM's pidfile when that process is alive (not a zombie) and is this VM's QEMU.</summary>
    private int? LivePid(string id)
    {
        var dir = Dir(id);
        string text;
        try
        {
            text = File.ReadAllText(Path.Combine(dir, "qemu.pid")).Trim();
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && IsVmProcess(pid, id) ? pid : null;
    }

    /// <summary>Whether <paramref name="pid"/> is alive (not a zombie) and is QEMU started on this VM's directory (pids are reused).</summary>
    private bool IsVmProcess(int pid, string id)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
            if (state is "Z" or "X")
            {
                return false;
            }

            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline");
            return commandLine.Contains(Path.Combine(Dir(id), "qmp.sock"), StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private List<string> Arguments(QemuVmRecord record, string dir)
    {
        var accel = _options.Accelerator == "kvm" ? "kvm" : "tcg,tb-size=64";
        List<string> args =
        [
            "-name", "guest=" + record.Id,
            "-machine", "pc",
            "-accel", accel,
            "-m", record.MemoryMiB.ToString(CultureInfo.InvariantCulture) + "M",
            "-smp", record.Vcpus.ToString(CultureInfo.InvariantCulture),
            "-nodefaults", "-no-user-config", "-display", "none",
            "-chardev", $"file,id=console,path={Path.Combine(dir, "console.log")},append=on",
            "-serial", "chardev:console",
            "-qmp", $"unix:{Path.Combine(dir, "qmp.sock")},server=on,wait=off",
            "-pidfile", Path.Combine(dir, "qemu.pid"),
            "-daemonize",
        ];
        if (_options.Accelerator == "kvm")
        {
            args.AddRange(["-cpu", "host"]);
        }

        if (record.Kernel is not null)
        {
            args.AddRange(["-kernel", record.Kernel]);
            if (record.Initrd is not null)
            {
                args.AddRange(["-initrd", record.Initrd]);
            }

            args.AddRange(["-append", ("console=ttyS0 quiet panic=-1 " + record.KernelCommandLine).Trim()]);
        }

        args.AddRange(["-drive", $"file={Path.Combine(dir, "os.qcow2")},if=virtio,format=qcow2"]);
        foreach (var lun in record.DataDiskLuns)
        {
            args.AddRange(["-drive", $"file={Path.Combine(dir, $"data-{lun}.qcow2")},if=virtio,format=qcow2"]);
        }

        args.AddRange(["-drive", $"file={Path.Combine(dir, "seed.iso")},if=virtio,format=raw,readonly=on"]);
        args.AddRange(["-netdev", "user,id=nic0,restrict=on" + UserNetwork(record.PrivateIpAddress, record.SubnetPrefix), "-device", $"virtio-net-pci,netdev=nic0,mac={record.Mac}"]);
        return args;
    }

    /// <summary>User-mode networking on the VM's subnet, its DHCP handing out the allocated address; empty when it cannot (QEMU's defaults then).</summary>
    internal static string UserNetwork(string? privateIp, string? subnetPrefix)
    {
        if (privateIp is null || subnetPrefix is null
            || !System.Net.IPNetwork.TryParse(subnetPrefix, out var network)
            || !System.Net.IPAddress.TryParse(privateIp, out var address)
            || network.BaseAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || !network.Contains(address) || network.PrefixLength > 28)
        {
            return "";
        }

        // slirp takes .2 (gateway) and .3 (DNS) of the network; an address there cannot be handed out.
        var offset = BitConverter.ToUInt32([.. address.GetAddressBytes().Reverse()]) - BitConverter.ToUInt32([.. network.BaseAddress.GetAddressBytes().Reverse()]);
        return offset is < 4 ? "" : $",net={network},dhcpstart={address}";
    }

    private BaseImage ResolveImage(string? reference)
    {
        var candidates = new List<string>();
        if (reference is { Length: > 0 })
        {
            var lower = reference.ToLowerInvariant();
            if (lower.Contains('/', StringComparison.Ordinal))
            {
                candidates.Add(lower[(lower.LastIndexOf('/') + 1)..]);
            }

            var parts = lower.Split(':');
            if (parts.Length >= 3)
            {
                candidates.AddRange([$"{parts[1]}-{parts[2]}", parts[2], parts[1]]);
            }

            candidates.Add(lower);
        }

        if (_options.DefaultImage is { } fallback)
        {
            candidates.Add(fallback);
        }

        foreach (var name in candidates)
        {
            if (_images.Find(name) is { } image)
            {
                return image;
            }
        }

        throw new VmDriverException($"No image in this host's store matches '{reference}' (images: {string.Join(", ", _images.Names())}); import one with 'holdfast image import'.");
    }

    private void BoundConsole(string id)
    {
        var path = Path.Combine(Dir(id), "console.log");
        var info = new FileInfo(path);
        if (!info.Exists || info.Length <= _options.ConsoleLogLimitBytes)
        {
            return;
        }

        // QEMU appends (O_APPEND), so after the cut its writes land at the new end; a line written meanwhile may be lost.
        var tail = ReadConsole(id) ?? "";
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        stream.SetLength(0);
        stream.Write(Encoding.UTF8.GetBytes(tail));
    }

    private IEnumerable<QemuVmRecord> Records()
    {
        foreach (var dir in Directory.GetDirectories(_vmsRoot).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(dir);
            if (name.StartsWith('.') || Read(name) is not { } record)
            {
                continue;
            }

            yield return record;
        }
    }

    private QemuVmRecord? Read(string id)
    {
        var path = Path.Combine(Dir(id), "vm.json");
        return File.Exists(path) ? FabricJson.Deserialize<QemuVmRecord>(File.ReadAllBytes(path)) : null;
    }

    private string Dir(string id) => Path.Combine(_vmsRoot, id.ToLowerInvariant());

    /// <summary>Holds the VM's gate (one operation per VM at a time) until disposed.</summary>
    private async Task<GateHold> LockAsync(string id, CancellationToken cancellationToken)
    {
        var gate = Gate(id);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new GateHold(gate);
    }

    private readonly struct GateHold(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }

    private SemaphoreSlim Gate(string id)
    {
        lock (_gates)
        {
            if (!_gates.TryGetValue(id, out var gate))
            {
                gate = new SemaphoreSlim(1, 1);
                _gates[id] = gate;
            }

            return gate;
        }
    }

    private void ValidateId(string id)
    {
        if (id.Length is 0 or > 64 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
        {
            throw new VmDriverException($"'{id}' is not a VM id this driver accepts (letters, digits, hyphens; at most 64).");
        }

        // A unix socket path is limited to 107 bytes.
        if (Encoding.UTF8.GetByteCount(Path.Combine(Dir(id), "qmp.sock")) > 107)
        {
            throw new VmDriverException($"The data directory '{_options.DataDirectory}' is too long for QMP sockets (unix socket paths are limited to 107 bytes).");
        }
    }

    private static string MacOf(string id)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(id.ToLowerInvariant()));
        return $"52:54:00:{hash[0]:x2}:{hash[1]:x2}:{hash[2]:x2}";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Adopted VM {InstanceId}: QEMU pid {Pid} is running")]
    private static partial void LogAdopted(ILogger logger, string instanceId, int pid);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created VM {InstanceId} from image {Image} ({Vcpus} vCPUs, {MemoryMiB} MiB)")]
    private static partial void LogCreated(ILogger logger, string instanceId, string image, int vcpus, int memoryMiB);

    [LoggerMessage(Level = LogLevel.Information, Message = "Started VM {InstanceId}: QEMU pid {Pid} ({Accelerator})")]
    private static partial void LogStarted(ILogger logger, string instanceId, int pid, string accelerator);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopped VM {InstanceId} (QEMU pid {Pid}, {How})")]
    private static partial void LogStopped(ILogger logger, string instanceId, int pid, string how);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted VM {InstanceId} and its files")]
    private static partial void LogDeleted(ILogger logger, string instanceId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VM {InstanceId}: QMP {Command} failed: {Reason}")]
    private static partial void LogQmpFailed(ILogger logger, string instanceId, string command, string reason);
}

/// <summary>What the qemu driver keeps of a VM in <c>vms/{id}/vm.json</c> (0600).</summary>
internal sealed record QemuVmRecord
{
    public required string Id { get; init; }

    public long Epoch { get; init; }

    public CapacityVector Demand { get; init; }

    public string? Size { get; init; }

    public required string Image { get; init; }

    public string? Kernel { get; init; }

    public string? Initrd { get; init; }

    public string? KernelCommandLine { get; init; }

    public int Vcpus { get; init; }

    public int MemoryMiB { get; init; }

    public IReadOnlyList<int> DataDiskLuns { get; init; } = [];

    public string? PrivateIpAddress { get; init; }

    public string? SubnetPrefix { get; init; }

    public required string Mac { get; init; }
}
