using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Holdfast.Agent.Drivers.Qemu;

/// <summary>
/// Decides between KVM and TCG by booting, never by <c>/dev/kvm</c> existing (a host module may accept
/// <c>KVM_CREATE_VM</c> and still hang ordinary guests): boots an image's kernel with <c>-accel kvm</c> and waits for
/// the kernel's first console line ("Linux version"). KVM only when that appears in time; TCG otherwise.
/// </summary>
public static class QemuAcceleratorProbe
{
    public static async Task<(string Accelerator, string Reason)> ProbeAsync(string qemuPath, string? kernel, string? initrd, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!File.Exists("/dev/kvm"))
        {
            return ("tcg", "/dev/kvm does not exist");
        }

        if (kernel is null)
        {
            return ("tcg", "no image with a kernel to probe KVM with");
        }

        var start = new ProcessStartInfo(qemuPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        List<string> args = ["-accel", "kvm", "-cpu", "host", "-m", "128M", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio", "-kernel", kernel, "-append", "console=ttyS0 panic=-1"];
        if (initrd is not null)
        {
            args.AddRange(["-initrd", initrd]);
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start);
        if (process is null)
        {
            return ("tcg", "QEMU could not be started");
        }

        var seen = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                seen.TrySetResult(false);
            }
            else if (e.Data.Contains("Linux version", StringComparison.Ordinal))
            {
                seen.TrySetResult(true);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                {
                    output.AppendLine(e.Data);
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool booted;
        try
        {
            booted = await seen.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            booted = false;
        }

        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        string error;
        lock (output)
        {
            error = output.ToString().Trim();
        }

        return booted
            ? ("kvm", "a KVM test boot reached the kernel")
            : ("tcg", string.Create(CultureInfo.InvariantCulture, $"a KVM test boot showed no kernel output within {timeout.TotalSeconds:0} s{(error.Length > 0 ? ": " + error.Split('\n')[0] : "")}"));
    }
}
