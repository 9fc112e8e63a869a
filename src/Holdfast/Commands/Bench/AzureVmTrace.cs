using System.Globalization;

namespace Holdfast.Commands.Bench;

/// <summary>One VM of the trace: when it arrived, its size, and when it leaves (null: still running when the trace was cut).</summary>
internal readonly record struct TraceVm(double ArrivalSeconds, int VCpus, int MemoryMiB, double? DepartureSeconds);

/// <summary>
/// Reads a split of shared/data/azure-vm-trace-v1 (Azure public dataset V1 as binned by huaweicloud/trace_generation_rnn;
/// its README is the format): the flavor file given, the duration file beside it (<c>{stem}.c*.txt</c>), the flavor
/// map (<c>flav_map.txt</c>) and the lifetime bins (<c>{prefix}.interval_map.txt</c>). A lifetime is drawn uniformly
/// inside its bin with a seeded generator, so a replay is reproducible; censored VMs (<c>C</c>) and the open-ended last
/// bin never leave.
/// </summary>
internal static class AzureVmTrace
{
    private const int BinSeconds = 300;

    public static IReadOnlyList<TraceVm> Load(string flavorPath, int seed)
    {
        if (!File.Exists(flavorPath))
        {
            throw new FileNotFoundException($"No trace file {flavorPath}.");
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(flavorPath))!;
        var stem = Path.GetFileNameWithoutExtension(flavorPath);
        var durationPath = Directory.GetFiles(directory, stem + ".c*.txt") switch
        {
            [var single] => single,
            [] => throw new FileNotFoundException($"No duration file '{stem}.c*.txt' beside {flavorPath}."),
            var many => throw new InvalidDataException($"More than one duration file beside {flavorPath}: {string.Join(", ", many.Select(Path.GetFileName))}."),
        };
        var prefix = stem.Split('.')[0];
        var flavors = ReadFlavors(Path.Combine(directory, "flav_map.txt"));
        var bins = ReadBins(Path.Combine(directory, prefix + ".interval_map.txt"));
        var random = new Random(seed);
        var vms = new List<TraceVm>();
        using var arrivals = new StreamReader(flavorPath);
        using var durations = new StreamReader(durationPath);
        for (var line = 1; ; line++)
        {
            var arrivalLine = arrivals.ReadLine();
            var durationLine = durations.ReadLine();
            if (arrivalLine is null || durationLine is null)
            {
                if (arrivalLine is not null || durationLine is not null)
                {
                    throw new InvalidDataException($"{flavorPath} and {durationPath} have different numbers of lines.");
                }

                return vms;
            }

            var (time, items) = SplitLine(arrivalLine, flavorPath, line);
            var (durationTime, lifetimes) = SplitLine(durationLine, durationPath, line);
            if (time != durationTime || items.Count != lifetimes.Count)
            {
                throw new InvalidDataException($"Line {line}: the flavor and duration files do not correspond item by item.");
            }

            for (var i = 0; i < items.Count; i++)
            {
                if (!flavors.TryGetValue(items[i], out var flavor))
                {
                    throw new InvalidDataException($"Line {line} of {flavorPath}: unknown flavor '{items[i]}'.");
                }

                vms.Add(new TraceVm(time, flavor.VCpus, flavor.MemoryMiB, Departure(time, lifetimes[i], bins, random, line)));
            }
        }
    }

    private static double? Departure(double arrival, string item, Dictionary<int, (int From, int To)> bins, Random random, int line)
    {
        if (item.Length < 2 || item[0] is not ('U' or 'C') || !int.TryParse(item.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var bin))
        {
            throw new InvalidDataException($"Line {line}: bad duration item '{item}'.");
        }

        if (item[0] == 'C' || !bins.TryGetValue(bin, out var range))
        {
            return null;
        }

        return arrival + range.From + (random.NextDouble() * (range.To - range.From));
    }

    private static (double Time, List<string> Items) SplitLine(string line, string path, int number)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        var timeText = space < 0 ? line : line[..space];
        if (!double.TryParse(timeText, NumberStyles.Float, CultureInfo.InvariantCulture, out var time))
        {
            throw new InvalidDataException($"Line {number} of {path} does not start with a time in seconds.");
        }

        var items = space < 0
            ? []
            : line[(space + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(i => i != "|").ToList();
        return (time, items);
    }

    private static Dictionary<string, (int VCpus, int MemoryMiB)> ReadFlavors(string path)
    {
        var flavors = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path).Where(l => l.Length > 0))
        {
            var parts = line.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3)
            {
                throw new InvalidDataException($"{path}: expected 'vCPUs,memoryGiB letter', got '{line}'.");
            }

            var vCpus = int.Parse(parts[0], CultureInfo.InvariantCulture);
            var memoryMiB = (int)Math.Round(double.Parse(parts[1], CultureInfo.InvariantCulture) * 1024);
            flavors[parts[2]] = (vCpus, memoryMiB);
        }

        return flavors;
    }

    /// <summary>Bin → the lifetimes it covers, [first second mapped to it, last second mapped + 300).</summary>
    private static Dictionary<int, (int From, int To)> ReadBins(string path)
    {
        var bins = new Dictionary<int, (int From, int To)>();
        foreach (var line in File.ReadLines(path).Where(l => l.Length > 0))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var seconds = int.Parse(parts[0], CultureInfo.InvariantCulture);
            var bin = int.Parse(parts[1], CultureInfo.InvariantCulture);
            bins[bin] = bins.TryGetValue(bin, out var range) ? (Math.Min(range.From, seconds), Math.Max(range.To, seconds + BinSeconds)) : (seconds, seconds + BinSeconds);
        }

        return bins;
    }
}
