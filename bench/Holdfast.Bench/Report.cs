using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Holdfast.Bench.Load;

namespace Holdfast.Bench;

/// <summary>
/// The Markdown report: one row per concurrency level and operation (the median over rounds), the two ratios against
/// their targets, CPU use, and every error seen. Missing a target is reported, not failed.
/// </summary>
internal static class Report
{
    public const double GetTarget = 0.5;
    public const double PutTarget = 0.5;

    /// <summary>Other processes using more than this many cores during a cell make its numbers suspect.</summary>
    public const double NoisyCores = 0.25;

    public static string Render(BenchOptions options, IReadOnlyList<Measurement> measurements, int documentBytes, int serverProblemLines, string holdfastDll)
    {
        var text = new StringBuilder();
        var culture = CultureInfo.InvariantCulture;
        text.AppendLine();
        text.AppendLine("## Holdfast load test");
        text.AppendLine();
        text.AppendLine(culture, $"- machine: {Environment.ProcessorCount} logical CPUs, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.ProcessArchitecture}");
        text.AppendLine(culture, $"- command: Holdfast.Bench {string.Join(' ', Environment.GetCommandLineArgs().Skip(1))}");
        text.AppendLine(culture, $"- store: {(options.Etcd ? "etcd: 3 local members (/usr/bin/etcd, loopback, fsync on); the server and the raw run both talk to the first member" : "SQLite in the server's data directory")}");
        text.AppendLine(culture, $"- server: {holdfastDll} (throttle off, 127.0.0.1, HTTPS/1.1, one connection per worker){(options.ServerEnvironment.Count == 0 ? string.Empty : "; server environment: " + string.Join(", ", options.ServerEnvironment.Select(e => e.Key + "=" + e.Value)))}");
        text.AppendLine(culture, $"- per cell: {options.WarmupSeconds:0.#} s warm-up, {options.Seconds:0.#} s measured; rounds {options.Rounds} (median shown); PUT names per worker {options.Names}; resource-group document {documentBytes} B; raw store value {options.ValueBytes} B");
        text.AppendLine();
        text.AppendLine("| concurrency | op | req/s | p50 ms | p99 ms | errors |");
        text.AppendLine("| ---: | --- | ---: | ---: | ---: | ---: |");

        var cells = Cells(options, measurements);
        foreach (var cell in cells)
        {
            var errors = cell.Errors == 0 ? "0" : string.Create(culture, $"**{cell.Errors} FLAGGED**");
            text.AppendLine(culture, $"| {cell.Concurrency} | {cell.Operation.Describe()} | {cell.RequestsPerSecond:N0} | {Milliseconds(cell.P50Milliseconds)} | {Milliseconds(cell.P99Milliseconds)} | {errors} |");
        }

        text.AppendLine();
        text.AppendLine(culture, $"Ratios (targets: GET ≥ {GetTarget:P0} of the ceiling; PUT ≥ {PutTarget:P0} of the raw durable-write rate):");
        text.AppendLine();
        foreach (var concurrency in options.Concurrency)
        {
            var get = Ratio(cells, concurrency, BenchOperation.GetGroup, BenchOperation.Ceiling);
            var put = Ratio(cells, concurrency, BenchOperation.PutGroup, options.Etcd ? BenchOperation.RawEtcd : BenchOperation.RawStore);
            text.AppendLine(culture, $"- concurrency {concurrency}: GET/ceiling = {get:0.00} ({Verdict(get, GetTarget)}); PUT/raw {(options.Etcd ? "etcd" : "store")} = {put:0.00} ({Verdict(put, PutTarget)})");
        }

        text.AppendLine();
        text.AppendLine(culture, $"CPU busy during the measured window, in cores of {Environment.ProcessorCount}: the server process, this tool (the load generator, and the store itself in the raw run), and every other process on the machine (noise):");
        text.AppendLine();
        text.AppendLine("| concurrency | op | server | bench | other processes |");
        text.AppendLine("| ---: | --- | ---: | ---: | ---: |");
        foreach (var cell in cells)
        {
            text.AppendLine(culture, $"| {cell.Concurrency} | {cell.Operation.Describe()} | {cell.ServerCores:0.00} | {cell.BenchCores:0.00} | {cell.OtherCores:0.00} |");
        }

        var flagged = measurements.Where(m => m.Errors > 0 || m.SamplesCapped).ToList();
        var noisy = measurements.Where(m => m.OtherCores > NoisyCores).ToList();
        text.AppendLine();
        if (noisy.Count > 0)
        {
            text.AppendLine(culture, $"Noise: in {noisy.Count} of {measurements.Count} measurements other processes used more than {NoisyCores:0.00} cores (worst {noisy.Max(m => m.OtherCores):0.00}); compare rounds before trusting a single cell.");
            text.AppendLine();
        }

        if (flagged.Count == 0 && serverProblemLines == 0)
        {
            text.AppendLine("No errors; the server logged no warnings.");
        }
        else
        {
            text.AppendLine("**Flagged:**");
            foreach (var m in flagged)
            {
                text.AppendLine(culture, $"- concurrency {m.Concurrency}, {m.Operation.Describe()}: {m.Errors} errors{(m.SamplesCapped ? ", latency samples capped" : string.Empty)}; first: {m.FirstError}");
            }

            if (serverProblemLines > 0)
            {
                text.AppendLine(culture, $"- the server logged {serverProblemLines} warning/error lines during the run");
            }
        }

        return text.ToString();
    }

    private static List<Measurement> Cells(BenchOptions options, IReadOnlyList<Measurement> measurements)
    {
        var cells = new List<Measurement>();
        foreach (var concurrency in options.Concurrency)
        {
            foreach (var operation in BenchOperationNames.For(options))
            {
                var rounds = measurements.Where(m => m.Concurrency == concurrency && m.Operation == operation).ToList();
                if (rounds.Count == 0)
                {
                    continue;
                }

                cells.Add(new Measurement(
                    concurrency,
                    operation,
                    Median(rounds.Select(m => m.RequestsPerSecond)),
                    Median(rounds.Select(m => m.P50Milliseconds)),
                    Median(rounds.Select(m => m.P99Milliseconds)),
                    rounds.Sum(m => m.Completed),
                    rounds.Sum(m => m.Errors),
                    rounds.Select(m => m.FirstError).FirstOrDefault(e => e is not null),
                    Median(rounds.Select(m => m.ServerCores)),
                    Median(rounds.Select(m => m.BenchCores)),
                    Median(rounds.Select(m => m.MachineCores)),
                    rounds.Any(m => m.SamplesCapped)));
            }
        }

        return cells;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private static double Ratio(List<Measurement> cells, int concurrency, BenchOperation numerator, BenchOperation denominator)
    {
        var top = cells.FirstOrDefault(c => c.Concurrency == concurrency && c.Operation == numerator)?.RequestsPerSecond ?? 0;
        var bottom = cells.FirstOrDefault(c => c.Concurrency == concurrency && c.Operation == denominator)?.RequestsPerSecond ?? 0;
        return bottom > 0 ? top / bottom : 0;
    }

    private static string Verdict(double ratio, double target) => ratio >= target ? "target met" : "**target missed**";

    private static string Milliseconds(double value) =>
        value.ToString(value < 1 ? "0.000" : "0.00", CultureInfo.InvariantCulture);
}
