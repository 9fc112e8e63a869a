using System.Diagnostics;
using System.Globalization;
using Holdfast.Bench.Http;
using Holdfast.Bench.Load;
using Holdfast.Bench.Server;
using Holdfast.Bench.Store;

namespace Holdfast.Bench;

/// <summary>
/// One bench run: start the server, authenticate, seed the GET target, then for each round and each concurrency level
/// run ceiling, GET, PUT and raw store back to back (interleaved), and print the report. The server is always killed.
/// </summary>
internal static class BenchRun
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Seconds allowed per measurement on top of warm-up and window: settling, store open/close, a slow last request.</summary>
    private const double PerMeasurementSlackSeconds = 15;

    /// <summary>An upper bound on the whole run's wall time; the run is cancelled when it is exceeded.</summary>
    public static TimeSpan Budget(BenchOptions options) => options.Failover > 0 ? Failover.FailoverRun.Budget(options) : options.Vms > 0 ? TimeSpan.FromSeconds(300 + (options.Vms * 0.5)) : TimeSpan.FromSeconds(
        120 + (4 * (options.PrimeSeconds + PerMeasurementSlackSeconds))
        + (options.Rounds * options.Concurrency.Count * 4 * (options.WarmupSeconds + options.Seconds + 3 + options.SettleSeconds + PerMeasurementSlackSeconds)));

    public static async Task RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var holdfastDll = ResolveHoldfast(options.HoldfastPath);
        if (options.Failover > 0)
        {
            await Failover.FailoverRun.RunAsync(options, holdfastDll, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (options.Vms > 0)
        {
            await Vms.VmCreationRun.RunAsync(options, holdfastDll, cancellationToken).ConfigureAwait(false);
            return;
        }

        await using var etcd = options.Etcd ? await LocalEtcdCluster.StartAsync(cancellationToken).ConfigureAwait(false) : null;
        using var rawEtcd = etcd is null ? null : new RawEtcdScenario(etcd.FirstEndpoint);
        await Console.Error.WriteLineAsync($"bench: starting {holdfastDll}{(etcd is null ? string.Empty : " on " + etcd.Store)}").ConfigureAwait(false);
        await using var server = await ServerProcess.StartAsync(
            holdfastDll,
            etcd is null ? options.ServerEnvironment : [.. options.ServerEnvironment, .. etcd.ServerEnvironment],
            ReadyTimeout,
            cancellationToken,
            etcd is null ? [] : ["--store", etcd.Store, .. options.EtcdApi is { } api ? new[] { "--etcd-api", api } : []]).ConfigureAwait(false);
        var credentials = AdminCredentialsFile.Load(Path.Combine(server.DataDirectory, "admin-credentials.json"));
        using var http = LoopbackHttp.FromPemFile(credentials.CaCertificatePath);
        var token = await http.GetTokenAsync(credentials, cancellationToken).ConfigureAwait(false);
        var endpoint = new Uri(credentials.Endpoint);
        var scenarios = new ArmScenarios(endpoint, credentials.SubscriptionId, options.Names);
        var documentBytes = await SeedAsync(http, scenarios, token, cancellationToken).ConfigureAwait(false);
        await Console.Error.WriteLineAsync(
            $"bench: server ready on {endpoint} (pid {server.ProcessId}, port {server.Port}, data {server.DataDirectory}); GET target document {documentBytes} bytes; budget {Budget(options).TotalSeconds:0} s").ConfigureAwait(false);

        await PrimeAsync(options, http, token, scenarios, server, rawEtcd, cancellationToken).ConfigureAwait(false);
        var measurements = new List<Measurement>();
        var warmup = TimeSpan.FromSeconds(options.WarmupSeconds);
        var duration = TimeSpan.FromSeconds(options.Seconds);
        for (var round = 1; round <= options.Rounds; round++)
        {
            foreach (var concurrency in options.Concurrency)
            {
                using var client = http.CreateClient(concurrency, token);
                foreach (var operation in BenchOperationNames.For(options))
                {
                    await SettleAsync(server, TimeSpan.FromSeconds(options.SettleSeconds), cancellationToken).ConfigureAwait(false);
                    var measurement = await MeasureAsync(operation, concurrency, warmup, duration, options, client, scenarios, server, rawEtcd, cancellationToken)
                        .ConfigureAwait(false);
                    if (server.HasExited)
                    {
                        throw new SetupException($"The server exited during the run ({operation.Describe()}, concurrency {concurrency}).{server.Tail()}");
                    }

                    measurements.Add(measurement);
                    await Console.Error.WriteLineAsync(Progress(round, options.Rounds, measurement)).ConfigureAwait(false);
                }
            }
        }

        var report = Report.Render(options, measurements, documentBytes, server.ProblemLines, holdfastDll);
        await Console.Out.WriteAsync(report).ConfigureAwait(false);
        await Console.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One cell: the HTTP operations on <paramref name="client"/>, the raw store on a fresh file of its own.</summary>
    private static async Task<Measurement> MeasureAsync(
        BenchOperation operation,
        int concurrency,
        TimeSpan warmup,
        TimeSpan duration,
        BenchOptions options,
        HttpClient client,
        ArmScenarios scenarios,
        ServerProcess server,
        RawEtcdScenario? rawEtcd,
        CancellationToken cancellationToken)
    {
        if (operation == BenchOperation.RawEtcd)
        {
            return await LoadRunner.RunAsync(
                operation, rawEtcd!.Put(concurrency, options.Names, options.ValueBytes), concurrency, warmup, duration, () => server.CpuTime, cancellationToken)
                .ConfigureAwait(false);
        }

        if (operation == BenchOperation.RawStore)
        {
            await using var store = await RawStoreScenario.OpenAsync(cancellationToken).ConfigureAwait(false);
            return await LoadRunner.RunAsync(
                operation, store.Put(concurrency, options.Names, options.ValueBytes), concurrency, warmup, duration, () => server.CpuTime, cancellationToken)
                .ConfigureAwait(false);
        }

        var load = operation switch
        {
            BenchOperation.Ceiling => scenarios.Ceiling(client),
            BenchOperation.GetGroup => scenarios.GetGroup(client),
            _ => scenarios.PutGroup(client, concurrency),
        };
        return await LoadRunner.RunAsync(operation, load, concurrency, warmup, duration, () => server.CpuTime, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The server dll: the flag, else the Release build under the repo root (found from here or the working directory).</summary>
    private static string ResolveHoldfast(string? flag)
    {
        if (flag is not null)
        {
            var full = Path.GetFullPath(flag);
            return File.Exists(full) ? full : throw new SetupException($"--holdfast '{full}' does not exist.");
        }

        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Holdfast.slnx")))
                {
                    var candidate = Path.Combine(directory.FullName, "src", "Holdfast", "bin", "Release", "net10.0", "holdfast.dll");
                    return File.Exists(candidate)
                        ? candidate
                        : throw new SetupException($"'{candidate}' does not exist: build the server first (dotnet build -c Release src/Holdfast) or pass --holdfast PATH.");
                }
            }
        }

        throw new SetupException("Cannot find the repo root (Holdfast.slnx) from the working directory or the tool's folder: pass --holdfast PATH.");
    }

    /// <summary>Creates the GET target and checks the pipeline answers as expected; returns the stored document's size.</summary>
    private static async Task<int> SeedAsync(LoopbackHttp http, ArmScenarios scenarios, string token, CancellationToken cancellationToken)
    {
        using var client = http.CreateClient(1, token);
        try
        {
            var uri = scenarios.GroupUri(ArmScenarios.GetTargetName);
            if (await ArmScenarios.PutAsync(client, uri, ArmScenarios.GroupBody("worker-000"), cancellationToken).ConfigureAwait(false) is { } putError)
            {
                throw new SetupException($"Creating the GET target failed: {putError}");
            }

            using var request = LoopbackHttp.NewRequest(HttpMethod.Get, uri);
            using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var document = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new SetupException($"Reading the GET target failed: HTTP {(int)response.StatusCode}.");
            }

            if (await ArmScenarios.GetAsync(client, new Uri(uri, "/holdfast/whoami"), cancellationToken).ConfigureAwait(false) is { } whoAmIError)
            {
                throw new SetupException($"GET /holdfast/whoami failed: {whoAmIError}");
            }

            return document.Length;
        }
        catch (HttpRequestException ex)
        {
            throw new SetupException($"Seeding the server failed: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Unrecorded load on every operation at the highest concurrency, so the server's and this tool's tiered JIT (with
    /// PGO) have reached steady code before the first cell; without it the first cell measures the JIT.
    /// </summary>
    private static async Task PrimeAsync(BenchOptions options, LoopbackHttp http, string token, ArmScenarios scenarios, ServerProcess server, RawEtcdScenario? rawEtcd, CancellationToken cancellationToken)
    {
        if (options.PrimeSeconds <= 0)
        {
            return;
        }

        var concurrency = options.Concurrency.Max();
        var duration = TimeSpan.FromSeconds(options.PrimeSeconds);
        using var client = http.CreateClient(concurrency, token);
        foreach (var operation in BenchOperationNames.For(options))
        {
            var primed = await MeasureAsync(operation, concurrency, TimeSpan.Zero, duration, options, client, scenarios, server, rawEtcd, cancellationToken)
                .ConfigureAwait(false);
            await Console.Error.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"bench: primed {operation.Describe()} at c={concurrency}: {primed.RequestsPerSecond:N0} req/s, {primed.Errors} errors")).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// GCs this process, waits (at most 3 s) until the server is idle — so the last cell's tail (the reconcile loop
    /// catching up after PUTs, a checkpoint) is not charged to the next cell — then waits (at most
    /// <paramref name="machineLimit"/>) for the whole machine to go idle. A machine that stays busy is measured anyway
    /// and shows up in the report's "other processes" column.
    /// </summary>
    private static async Task SettleAsync(ServerProcess server, TimeSpan machineLimit, CancellationToken cancellationToken)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var interval = TimeSpan.FromMilliseconds(200);
        var deadline = Stopwatch.GetTimestamp() + (3 * Stopwatch.Frequency);
        var serverCpu = server.CpuTime;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
            var now = server.CpuTime;
            if (now - serverCpu < interval * 0.05)
            {
                break;
            }

            serverCpu = now;
        }

        deadline = Stopwatch.GetTimestamp() + (long)(machineLimit.TotalSeconds * Stopwatch.Frequency);
        var machine = MachineCpu.Sample();
        while (Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
            var now = MachineCpu.Sample();
            if (!(now.BusyCoresSince(machine) >= 0.25))
            {
                return;
            }

            machine = now;
        }
    }

    private static string Progress(int round, int rounds, Measurement m) => string.Create(
        CultureInfo.InvariantCulture,
        $"bench: round {round}/{rounds} c={m.Concurrency,-3} {m.Operation.Describe(),-45} {m.RequestsPerSecond,9:N0} req/s  p50 {m.P50Milliseconds:0.000} ms  p99 {m.P99Milliseconds:0.000} ms  errors {m.Errors}  cpu server {m.ServerCores:0.00} bench {m.BenchCores:0.00} other {m.OtherCores:0.00}{(m.FirstError is null ? string.Empty : "  first error: " + m.FirstError)}");
}
