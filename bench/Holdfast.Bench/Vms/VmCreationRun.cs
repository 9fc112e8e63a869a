using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Bench.Http;
using Holdfast.Bench.Server;

namespace Holdfast.Bench.Vms;

/// <summary>
/// End-to-end VM creation: the real server with N simulated hosts (simulated hardware, driven through the same agent
/// logic as real agents), quota raised for one subscription, then <c>--vms</c> <c>Standard_B1s</c> virtual machines
/// created through the ARM API by <c>--concurrency</c> workers. Each worker PUTs a VM and polls its GET every
/// <see cref="PollInterval"/> until <c>provisioningState</c> is Succeeded (admitted against quota, placed by the capacity
/// service, reported running by its host). Reports creations per second over the whole batch and p50/p99 of the PUT's
/// own latency and of the time from PUT to Succeeded.
/// </summary>
internal static class VmCreationRun
{
    public const string ApiVersion = "2023-07-01";
    public const string Size = "Standard_B1s";
    private const string Group = "bench-vms";
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan PerVmTimeout = TimeSpan.FromSeconds(120);

    public static async Task RunAsync(BenchOptions options, string holdfastDll, CancellationToken cancellationToken)
    {
        string[] serverArguments = ["--simulated-hosts", options.Hosts.ToString(CultureInfo.InvariantCulture), "--heartbeat-seconds", options.HeartbeatSeconds.ToString(CultureInfo.InvariantCulture)];
        await using var server = await ServerProcess.StartAsync(holdfastDll, options.ServerEnvironment, TimeSpan.FromSeconds(120), cancellationToken, serverArguments).ConfigureAwait(false);
        var credentials = AdminCredentialsFile.Load(Path.Combine(server.DataDirectory, "admin-credentials.json"));
        using var http = LoopbackHttp.FromPemFile(credentials.CaCertificatePath);
        var token = await http.GetTokenAsync(credentials, cancellationToken).ConfigureAwait(false);
        var endpoint = new Uri(credentials.Endpoint);
        var concurrency = options.Concurrency.Max();
        using var client = http.CreateClient(concurrency, token);
        await SetUpAsync(client, endpoint, credentials.SubscriptionId, options.Vms, cancellationToken).ConfigureAwait(false);
        await Console.Error.WriteLineAsync($"bench: server ready on {endpoint} with {options.Hosts} simulated hosts (pid {server.ProcessId}); creating {options.Vms} VMs with {concurrency} workers").ConfigureAwait(false);

        var putLatencies = new double[options.Vms];
        var readyLatencies = new double[options.Vms];
        var errors = new List<string>();
        var next = -1;
        var wall = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < options.Vms)
            {
                var uri = new Uri(endpoint, $"subscriptions/{credentials.SubscriptionId}/resourceGroups/{Group}/providers/Microsoft.Compute/virtualMachines/vm-{index:D5}?api-version={ApiVersion}");
                var (put, ready, error) = await CreateOneAsync(client, uri, index, cancellationToken).ConfigureAwait(false);
                putLatencies[index] = put;
                readyLatencies[index] = ready;
                if (error is not null)
                {
                    lock (errors)
                    {
                        errors.Add($"vm-{index:D5}: {error}");
                    }
                }
            }
        }, cancellationToken)).ToArray();
        await Task.WhenAll(workers).ConfigureAwait(false);
        wall.Stop();
        if (server.HasExited)
        {
            throw new SetupException("The server exited during the run." + server.Tail());
        }

        var succeeded = readyLatencies.Where(l => l > 0).Order().ToArray();
        var puts = putLatencies.Where(l => l > 0).Order().ToArray();
        var text = new StringBuilder();
        var culture = CultureInfo.InvariantCulture;
        text.AppendLine();
        text.AppendLine("## Holdfast VM creation (end to end)");
        text.AppendLine();
        text.AppendLine(culture, $"- command: Holdfast.Bench {string.Join(' ', Environment.GetCommandLineArgs().Skip(1))}");
        text.AppendLine(culture, $"- server: {holdfastDll} serve {string.Join(' ', serverArguments)} (throttle off); {Environment.ProcessorCount} logical CPUs");
        text.AppendLine(culture, $"- {options.Vms} × {Size} in one subscription and group, {concurrency} workers; poll every {PollInterval.TotalMilliseconds:0} ms");
        text.AppendLine();
        text.AppendLine("| VMs | succeeded | errors | wall s | creations/s | PUT p50 ms | PUT p99 ms | PUT→Succeeded p50 ms | p99 ms |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        text.AppendLine(culture, $"| {options.Vms} | {succeeded.Length} | {errors.Count} | {wall.Elapsed.TotalSeconds:0.0} | {succeeded.Length / wall.Elapsed.TotalSeconds:0.0} | {Percentile(puts, 0.50):0.0} | {Percentile(puts, 0.99):0.0} | {Percentile(succeeded, 0.50):0} | {Percentile(succeeded, 0.99):0} |");
        foreach (var error in errors.Take(10))
        {
            text.AppendLine(culture, $"- error: {error}");
        }

        await Console.Out.WriteAsync(text.ToString()).ConfigureAwait(false);
    }

    /// <summary>Raises the subscription's quota so the batch fits and creates the group.</summary>
    private static async Task SetUpAsync(HttpClient client, Uri endpoint, string subscriptionId, int vms, CancellationToken cancellationToken)
    {
        var limit = Math.Max(vms * 2, 1000);
        var quota = new JsonObject
        {
            ["properties"] = new JsonObject { ["totalRegionalVCpus"] = limit, ["virtualMachines"] = limit, ["families"] = new JsonObject { ["standardBSFamily"] = limit } },
        }.ToJsonString();
        await SendAsync(client, HttpMethod.Put, new Uri(endpoint, $"providers/Holdfast.Capacity/quotas/{subscriptionId}?api-version=2025-01-01"), quota, "raising the quota", cancellationToken).ConfigureAwait(false);
        await SendAsync(client, HttpMethod.Put, new Uri(endpoint, $"subscriptions/{subscriptionId}/resourcegroups/{Group}?api-version=2022-09-01"), """{"location":"local"}""", "creating the group", cancellationToken).ConfigureAwait(false);
    }

    private static async Task SendAsync(HttpClient client, HttpMethod method, Uri uri, string body, string what, CancellationToken cancellationToken)
    {
        using var request = LoopbackHttp.NewRequest(method, uri);
        request.Content = new StringContent(body, Encoding.UTF8);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new SetupException($"{what} failed: HTTP {(int)response.StatusCode}: {LoopbackHttp.Truncate(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false))}");
        }
    }

    /// <summary>PUTs one VM and polls it to a terminal state: (PUT ms, PUT→Succeeded ms or 0, error or null).</summary>
    private static async Task<(double Put, double Ready, string? Error)> CreateOneAsync(HttpClient client, Uri uri, int index, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["location"] = "local",
            ["properties"] = new JsonObject
            {
                ["hardwareProfile"] = new JsonObject { ["vmSize"] = Size },
                ["osProfile"] = new JsonObject { ["computerName"] = "vm" + index.ToString(CultureInfo.InvariantCulture), ["adminUsername"] = "azureuser", ["adminPassword"] = "Bench-Passw0rd!" },
            },
        }.ToJsonString();
        var start = Stopwatch.GetTimestamp();
        using (var request = LoopbackHttp.NewRequest(HttpMethod.Put, uri))
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return (0, 0, $"PUT HTTP {(int)response.StatusCode}: {LoopbackHttp.Truncate(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false))}");
            }
        }

        var put = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        while (Stopwatch.GetElapsedTime(start) < PerVmTimeout)
        {
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
            using var request = LoopbackHttp.NewRequest(HttpMethod.Get, uri);
            using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            var state = response.IsSuccessStatusCode ? JsonNode.Parse(text)?["properties"]?["provisioningState"]?.GetValue<string>() : null;
            if (string.Equals(state, "Succeeded", StringComparison.OrdinalIgnoreCase))
            {
                return (put, Stopwatch.GetElapsedTime(start).TotalMilliseconds, null);
            }

            if (string.Equals(state, "Failed", StringComparison.OrdinalIgnoreCase))
            {
                return (put, 0, "provisioningState Failed");
            }
        }

        return (put, 0, $"not Succeeded within {PerVmTimeout.TotalSeconds:0} s");
    }

    /// <summary>Nearest-rank percentile of sorted values (0 when there are none).</summary>
    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
