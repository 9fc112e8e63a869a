using System.Globalization;

namespace Holdfast.Bench.Load;

/// <summary>
/// Whole-machine CPU from the first line of <c>/proc/stat</c> (Linux), so a measurement can say how much of the machine
/// went to processes other than the server and this tool: on a shared 2-core VM that is the main source of noise.
/// Elsewhere every sample is empty and the figures read as NaN.
/// </summary>
internal readonly record struct MachineCpu(long BusyJiffies, long TotalJiffies)
{
    public static MachineCpu Sample()
    {
        try
        {
            using var reader = new StreamReader("/proc/stat");
            var fields = reader.ReadLine()?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields is null || fields.Length < 5 || fields[0] != "cpu")
            {
                return default;
            }

            // user nice system idle iowait irq softirq steal ...: idle and iowait are the idle part.
            long total = 0;
            long idle = 0;
            for (var i = 1; i < fields.Length && i <= 8; i++)
            {
                var value = long.Parse(fields[i], CultureInfo.InvariantCulture);
                total += value;
                if (i is 4 or 5)
                {
                    idle += value;
                }
            }

            return new MachineCpu(total - idle, total);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return default;
        }
    }

    /// <summary>Cores busy between <paramref name="earlier"/> and this sample (out of <see cref="Environment.ProcessorCount"/>).</summary>
    public double BusyCoresSince(MachineCpu earlier)
    {
        var total = TotalJiffies - earlier.TotalJiffies;
        return total <= 0 ? double.NaN : (double)(BusyJiffies - earlier.BusyJiffies) / total * Environment.ProcessorCount;
    }
}
