using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Holdfast.Server.HaTests.Workload;

/// <summary>"No VM placed twice", checked in the stored fabric records.</summary>
internal static class Placement
{
    /// <summary>
    /// No instance on two hosts (or twice on one) in the stored allocation records, and every acknowledged VM has
    /// exactly one instance, placed on exactly one host, once placement has caught up (bounded). The store is read
    /// directly (<paramref name="readStore"/>: every key under a prefix and its value).
    /// </summary>
    public static async Task AssertEachVmPlacedOnceAsync(Func<string, Task<IReadOnlyList<(string Key, string Value)>>> readStore, RegisterWorkload workload, ITestOutputHelper output)
    {
        Assert.True(workload.AcknowledgedVms.Count > 0, "No VM was acknowledged; first failures: " + string.Join("; ", workload.VmFailures.Take(3)));
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var hostsOf = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var (_, value) in await readStore("/fabric/allocations/"))
            {
                var record = JsonNode.Parse(value)!;
                foreach (var allocation in record["allocations"]!.AsArray())
                {
                    string id = allocation!["id"]!.GetValue<string>();
                    hostsOf.TryAdd(id, []);
                    hostsOf[id].Add(record["host"]!.GetValue<string>());
                }
            }

            var instancesOf = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var (_, value) in await readStore("/fabric/instances/"))
            {
                var instance = JsonNode.Parse(value)!;
                if (instance["resourceId"]?.GetValue<string>() is { } resourceId)
                {
                    instancesOf.TryAdd(resourceId, []);
                    instancesOf[resourceId].Add(instance["id"]!.GetValue<string>());
                }
            }

            var twice = hostsOf.Where(p => p.Value.Count > 1).Select(p => $"{p.Key} on {string.Join(", ", p.Value)}").ToList();
            Assert.True(twice.Count == 0, "Placed more than once: " + string.Join("; ", twice));
            var wrong = new List<string>();
            foreach (string vm in workload.AcknowledgedVms)
            {
                string resourceId = "/" + workload.VmUri(vm).OriginalString.Split('?')[0];
                var instances = instancesOf.GetValueOrDefault(resourceId) ?? [];
                if (instances.Count != 1 || hostsOf.GetValueOrDefault(instances[0])?.Count != 1)
                {
                    wrong.Add($"{vm}: instances [{string.Join(", ", instances)}], hosts [{string.Join(", ", instances.SelectMany(i => hostsOf.GetValueOrDefault(i) ?? []))}]");
                }
            }

            if (wrong.Count == 0)
            {
                output.WriteLine($"{workload.AcknowledgedVms.Count} acknowledged VMs, each placed exactly once; {hostsOf.Count} allocations in the store");
                return;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(45), $"Acknowledged VMs not placed exactly once after 45 s: {string.Join("; ", wrong.Take(10))}");
            await Task.Delay(500);
        }
    }

}
