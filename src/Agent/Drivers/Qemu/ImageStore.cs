using System.Text.Json;
using Holdfast.Fabric;

namespace Holdfast.Agent.Drivers.Qemu;

/// <summary>
/// A base image in a host's local store (<c>{data}/images/{name}/image.json</c>): a disk (qcow2 or raw, read-only; OS
/// disks are qcow2 overlays on it) and optionally a kernel and initramfs for direct kernel boot, with the extra
/// kernel command line. The tiny test image is such a pair plus an empty base disk.
/// </summary>
public sealed record BaseImage(string Name, string Disk, string DiskFormat, string? Kernel = null, string? Initrd = null, string? KernelCommandLine = null);

/// <summary>The local image store: <c>holdfast image import</c> writes it, the qemu driver reads it.</summary>
public sealed class ImageStore(string dataDirectory)
{
    private readonly string _root = Path.Combine(dataDirectory, "images");

    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 80 && char.IsAsciiLetterOrDigit(name[0]) && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.' or '_');

    /// <summary>The image called <paramref name="name"/>, with absolute paths; null when there is none.</summary>
    public BaseImage? Find(string name)
    {
        if (!IsValidName(name))
        {
            return null;
        }

        var directory = Path.Combine(_root, name);
        var manifest = Path.Combine(directory, "image.json");
        if (!File.Exists(manifest))
        {
            return null;
        }

        var image = FabricJson.Deserialize<BaseImage>(File.ReadAllBytes(manifest));
        return image with
        {
            Disk = Path.Combine(directory, image.Disk),
            Kernel = image.Kernel is null ? null : Path.Combine(directory, image.Kernel),
            Initrd = image.Initrd is null ? null : Path.Combine(directory, image.Initrd),
        };
    }

    public IReadOnlyList<string> Names() =>
        Directory.Exists(_root) ? [.. Directory.GetDirectories(_root).Select(Path.GetFileName).Where(n => n is not null && File.Exists(Path.Combine(_root, n, "image.json"))).Order(StringComparer.Ordinal)!] : [];

    /// <summary>
    /// Imports an image: copies <paramref name="diskFile"/> (its format read with qemu-img), or creates an empty qcow2
    /// base of <paramref name="emptyDiskGb"/> GiB when there is none, plus the kernel and initramfs when given. Replaces
    /// nothing: importing a name that exists fails.
    /// </summary>
    public async Task<BaseImage> ImportAsync(string name, string? diskFile, string? kernel, string? initrd, string? commandLine, int emptyDiskGb, string qemuImg, CancellationToken cancellationToken)
    {
        if (!IsValidName(name))
        {
            throw new VmDriverException($"'{name}' is not an image name (lower-case letters, digits, '.', '-', '_'; at most 80).");
        }

        if (diskFile is null && kernel is null)
        {
            throw new VmDriverException("An image needs a disk file, or a kernel (and initramfs) for direct kernel boot.");
        }

        foreach (var file in new[] { diskFile, kernel, initrd })
        {
            if (file is not null && !File.Exists(file))
            {
                throw new VmDriverException($"'{file}' does not exist.");
            }
        }

        var final = Path.Combine(_root, name);
        if (Directory.Exists(final))
        {
            throw new VmDriverException($"Image '{name}' already exists in '{_root}'.");
        }

        var staging = Path.Combine(_root, ".import-" + name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(staging);
        try
        {
            string disk;
            string format;
            if (diskFile is not null)
            {
                var info = await ProcessRunner.RunAsync(qemuImg, ["info", "--output=json", diskFile], TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
                format = JsonDocument.Parse(info).RootElement.GetProperty("format").GetString() ?? "raw";
                if (format is not ("qcow2" or "raw"))
                {
                    throw new VmDriverException($"'{diskFile}' is a {format} image; import qcow2 or raw.");
                }

                disk = "disk." + format;
                File.Copy(diskFile, Path.Combine(staging, disk));
            }
            else
            {
                format = "qcow2";
                disk = "disk.qcow2";
                await ProcessRunner.RunAsync(qemuImg, ["create", "-q", "-f", "qcow2", Path.Combine(staging, disk), $"{Math.Max(1, emptyDiskGb)}G"], TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
            }

            if (kernel is not null)
            {
                File.Copy(kernel, Path.Combine(staging, "vmlinuz"));
            }

            if (initrd is not null)
            {
                File.Copy(initrd, Path.Combine(staging, "initrd"));
            }

            var image = new BaseImage(name, disk, format, kernel is null ? null : "vmlinuz", initrd is null ? null : "initrd", commandLine);
            AgentFiles.WriteAtomic(Path.Combine(staging, "image.json"), FabricJson.Serialize(image), isPrivate: false);
            if (!OperatingSystem.IsWindows())
            {
                // A base is never written again: overlays depend on it.
                File.SetUnixFileMode(Path.Combine(staging, disk), UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }

            Directory.Move(staging, final);
            return Find(name)!;
        }
        catch
        {
            Directory.Delete(staging, recursive: true);
            throw;
        }
    }
}
