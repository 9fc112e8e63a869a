using System.CommandLine;
using Holdfast.Agent;
using Holdfast.Agent.Drivers.Qemu;

namespace Holdfast.Commands;

/// <summary>
/// <c>holdfast image import</c>: puts a base image into a host's local image store (the agent's <c>--state-dir</c>),
/// where the qemu driver finds it by name (docs/drivers.md). The image is a disk file (qcow2 or raw), or a kernel and
/// initramfs for direct kernel boot (then with an empty base disk unless a disk file is given too).
/// </summary>
internal static class ImageCommand
{
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "The host agent's state directory (the image store is its images/ folder).", Required = true };
        var name = new Option<string>("--name") { Description = "The image's name (lower-case letters, digits, '.', '-', '_').", Required = true };
        var kernel = new Option<string?>("--kernel") { Description = "A kernel for direct kernel boot." };
        var initrd = new Option<string?>("--initrd") { Description = "The initramfs that goes with --kernel." };
        var commandLine = new Option<string?>("--append") { Description = "Extra kernel command line (after console=ttyS0)." };
        var emptyDisk = new Option<int>("--empty-disk-gb") { Description = "Without a disk file: the size of the empty base disk.", DefaultValueFactory = _ => 1 };
        var qemuImg = new Option<string>("--qemu-img") { Description = "The qemu-img program.", DefaultValueFactory = _ => "qemu-img" };
        var file = new Argument<string?>("file") { Description = "The disk image file (qcow2 or raw); optional with --kernel.", Arity = ArgumentArity.ZeroOrOne };
        var import = new Command("import", "Import a base image into a host's local image store.") { dataDir, name, kernel, initrd, commandLine, emptyDisk, qemuImg, file };
        import.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(initrd) is not null && parse.GetValue(kernel) is null)
            {
                Console.Error.WriteLine("holdfast image import: --initrd needs --kernel.");
                return 2;
            }

            try
            {
                var store = new ImageStore(Path.GetFullPath(parse.GetValue(dataDir)!));
                var image = await store.ImportAsync(parse.GetValue(name)!, parse.GetValue(file), parse.GetValue(kernel), parse.GetValue(initrd), parse.GetValue(commandLine), parse.GetValue(emptyDisk), parse.GetValue(qemuImg)!, cancellationToken).ConfigureAwait(false);
                Console.Out.WriteLine($"imported image {image.Name}: {image.Disk} ({image.DiskFormat}){(image.Kernel is null ? "" : ", kernel " + image.Kernel)}");
                return 0;
            }
            catch (VmDriverException ex)
            {
                Console.Error.WriteLine("holdfast image import: " + ex.Message);
                return 1;
            }
        });
        return new Command("image", "Manage a host's local image store (qemu driver).") { import };
    }
}
