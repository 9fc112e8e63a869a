using System.Diagnostics;

namespace Holdfast.Agent.Drivers.Qemu;

/// <summary>Runs a tool (qemu-img, genisoimage, qemu-system-x86_64 -daemonize) to completion, with a timeout; a failure throws <see cref="VmDriverException"/> with its stderr.</summary>
internal static class ProcessRunner
{
    public static async Task<string> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new VmDriverException($"'{fileName}' could not be started.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new VmDriverException($"'{fileName}' could not be started: {ex.Message}", ex);
        }

        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            try
            {
                await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                throw new VmDriverException($"'{Path.GetFileName(fileName)}' did not finish within {timeout.TotalSeconds:0} s.");
            }

            var output = await stdout.ConfigureAwait(false);
            var error = await stderr.ConfigureAwait(false);
            if (process.ExitCode != 0)
            {
                throw new VmDriverException($"'{Path.GetFileName(fileName)}' failed (exit {process.ExitCode}): {error.Trim()}");
            }

            return output;
        }
    }
}
