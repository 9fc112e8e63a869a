using System.Diagnostics;

namespace Holdfast.Testing;

/// <summary>
/// The QEMU test image (test/qemu-image/build.sh: the Debian cloud kernel and a busybox initramfs that prints
/// <c>HOLDFAST-BOOT-OK name=… customdata-sha256=…</c>) and whether this machine can run it. Real-VM tests skip, with
/// <see cref="MissingReason"/>, only when QEMU is not installed; anything else missing is a failure.
/// </summary>
public static class QemuTestImage
{
    /// <summary>Why real-VM tests cannot run here (qemu-system-x86_64 not installed), or null when they can.</summary>
    public static string? MissingReason { get; } = FindOnPath("qemu-system-x86_64") is null
        ? "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86 qemu-utils busybox-static cpio genisoimage; .ci/run does)"
        : null;

    /// <summary>The folder holding <c>vmlinuz</c> and <c>initrd.cpio.gz</c>: runs the script, which builds only when they are missing or stale (under a lock).</summary>
    public static async Task<string> EnsureBuiltAsync()
    {
        var directory = Environment.GetEnvironmentVariable("HOLDFAST_QEMU_IMAGE_DIR") ?? Path.Combine(RepositoryRoot(), "test", "qemu-image", "out");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot(), "test", "qemu-image", "build.sh"));
        start.ArgumentList.Add(directory);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"test/qemu-image/build.sh failed ({process.ExitCode}): {await output.ConfigureAwait(false)}{await error.ConfigureAwait(false)}");
        }

        return directory;
    }

    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Holdfast.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (Holdfast.slnx) is not above " + AppContext.BaseDirectory);
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => Path.Combine(p, program)).FirstOrDefault(File.Exists);
}
