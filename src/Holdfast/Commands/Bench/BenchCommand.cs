using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Holdfast.Capacity.Inventory;

namespace Holdfast.Commands.Bench;

/// <summary><c>holdfast bench</c>: in-process benchmarks of hot paths; <c>placement</c> is issue 4 §8's.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks of hot paths (in process; numbers go to docs/benchmarks.md).");
        command.Subcommands.Add(CreatePlacement());
        return command;
    }

    private static Command CreatePlacement()
    {
        var hosts = new Option<int>("--hosts") { Description = "Fleet size for the decision-latency part.", DefaultValueFactory = _ => 10_000 };
        var trace = new Option<string>("--trace") { Description = "Flavor file of shared/data/azure-vm-trace-v1 (e.g. v1.test.txt); its duration file must be beside it.", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (p50Ms, p99Ms, decisionsPerSecond, hostsUsedPeak, firstFitHostsUsedPeak, lowerBoundPeak)." };
        var decisions = new Option<int>("--decisions") { Description = "Measured decisions (after 20,000 unrecorded).", DefaultValueFactory = _ => 200_000 };
        var shape = new Option<string>("--host-shape") { Description = "Host shape as vCPUs,memoryGiB[,diskGiB[,gpus]].", DefaultValueFactory = _ => "64,256,2048,0" };
        var seed = new Option<int>("--seed") { Description = "Seed for lifetimes and the VMs freed.", DefaultValueFactory = _ => 1 };
        var command = new Command("placement", "Placement decision latency and throughput on N hosts, and packing of a replayed Azure VM trace against first-fit and a lower bound.")
        {
            hosts, trace, json, decisions, shape, seed,
        };
        command.SetAction(parse =>
        {
            var hostCount = parse.GetValue(hosts);
            var decisionCount = parse.GetValue(decisions);
            if (hostCount is < 1 or > 1_000_000)
            {
                return Fail("--hosts must be between 1 and 1,000,000.");
            }

            if (decisionCount is < 1 or > 10_000_000)
            {
                return Fail("--decisions must be between 1 and 10,000,000.");
            }

            if (ParseShape(parse.GetValue(shape)!) is not { } hostShape)
            {
                return Fail("--host-shape must be vCPUs,memoryGiB[,diskGiB[,gpus]] with positive vCPUs and memory, e.g. 64,256.");
            }

            IReadOnlyList<TraceVm> vms;
            try
            {
                vms = AzureVmTrace.Load(parse.GetValue(trace)!, parse.GetValue(seed));
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or FormatException)
            {
                Console.Error.WriteLine("holdfast bench placement: cannot read the trace: " + e.Message);
                return 1;
            }

            if (vms.Count == 0)
            {
                Console.Error.WriteLine("holdfast bench placement: the trace holds no VMs.");
                return 1;
            }

            var result = PlacementBenchmark.Run(vms, hostShape, hostCount, decisionCount, parse.GetValue(seed));
            Console.Out.WriteLine(parse.GetValue(json) ? ToJson(result) : ToText(result));
            return 0;
        });
        return command;
    }

    private static string ToJson(PlacementBenchmarkResult result)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("p50Ms", Math.Round(result.P50Ms, 4));
            writer.WriteNumber("p99Ms", Math.Round(result.P99Ms, 4));
            writer.WriteNumber("decisionsPerSecond", Math.Round(result.DecisionsPerSecond));
            writer.WriteNumber("hostsUsedPeak", result.HostsUsedPeak);
            writer.WriteNumber("firstFitHostsUsedPeak", result.FirstFitHostsUsedPeak);
            writer.WriteNumber("lowerBoundPeak", result.LowerBoundPeak);
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string ToText(PlacementBenchmarkResult r)
    {
        var shape = r.HostShape;
        return string.Create(CultureInfo.InvariantCulture, $"""
            Placement decisions on {r.Hosts:N0} hosts ({shape}), filled to {r.FleetVCpuUtilization:P1} of vCPUs, {r.MeasuredDecisions:N0} measured (free one, place one):
              p50 {r.P50Ms:F4} ms   p99 {r.P99Ms:F4} ms   {r.DecisionsPerSecond:N0} decisions/s
            Trace replay ({r.TraceVms:N0} VMs, arrivals and departures) on hosts of {shape}:
              peak hosts in use: placer {r.HostsUsedPeak:N0}, first-fit {r.FirstFitHostsUsedPeak:N0}, lower bound {r.LowerBoundPeak:N0} (placer / bound = {(double)r.HostsUsedPeak / r.LowerBoundPeak:F3})
            """);
    }

    private static CapacityVector? ParseShape(string text)
    {
        var parts = text.Split(',');
        var values = new int[4];
        if (parts.Length is < 2 or > 4)
        {
            return null;
        }

        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]) || values[i] > 1_000_000)
            {
                return null;
            }
        }

        return values[0] > 0 && values[1] > 0 ? new CapacityVector(values[0], values[1] * 1024, values[2], values[3]) : null;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("holdfast bench placement: " + message);
        return 2;
    }
}
