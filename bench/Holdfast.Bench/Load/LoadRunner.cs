using System.Diagnostics;

namespace Holdfast.Bench.Load;

/// <summary>
/// One request of an operation, run by worker <c>worker</c> for its <c>iteration</c>-th time. Returns null on success,
/// otherwise a short description of the failure (a non-2xx status with the start of its body, a failed write).
/// </summary>
internal delegate ValueTask<string?> Operation(int worker, long iteration, CancellationToken cancellationToken);

/// <summary>What one operation measured at one concurrency level in one round.</summary>
internal sealed record Measurement(
    int Concurrency,
    BenchOperation Operation,
    double RequestsPerSecond,
    double P50Milliseconds,
    double P99Milliseconds,
    long Completed,
    long Errors,
    string? FirstError,
    double ServerCores,
    double BenchCores,
    double MachineCores,
    bool SamplesCapped)
{
    /// <summary>Cores used by every other process on the machine during the window: the noise.</summary>
    public double OtherCores => Math.Max(0, MachineCores - ServerCores - BenchCores);
}

/// <summary>
/// Closed-loop load: N workers each send one request, wait for the whole response, and send the next, for a warm-up and
/// then a fixed measured window. A request counts when it completes inside the window (as wrk counts), so throughput is
/// completions / window; its latency is its own start-to-end Stopwatch time. Latencies go into per-worker arrays (no
/// sharing on the hot path), capped so memory stays bounded however fast the operation is.
/// </summary>
internal static class LoadRunner
{
    /// <summary>Most latency samples kept per measurement (8 bytes each); completions are still counted past it.</summary>
    private const int MaxSamples = 8_000_000;

    public static async Task<Measurement> RunAsync(
        BenchOperation operationKind,
        Operation operation,
        int concurrency,
        TimeSpan warmup,
        TimeSpan duration,
        Func<TimeSpan> serverCpu,
        CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var window = new Window(start + ToTicks(warmup), start + ToTicks(warmup) + ToTicks(duration));
        var workers = new WorkerResult[concurrency];
        for (var i = 0; i < concurrency; i++)
        {
            workers[i] = new WorkerResult(Math.Max(1024, MaxSamples / concurrency));
        }

        var tasks = new Task[concurrency];
        for (var i = 0; i < concurrency; i++)
        {
            var worker = i;
            tasks[i] = Task.Run(() => WorkerAsync(worker, operation, window, workers[worker], cancellationToken), cancellationToken);
        }

        // CPU is sampled at the window's edges, so warm-up work is not charged to the measurement.
        await DelayUntilAsync(window.MeasureStart, cancellationToken).ConfigureAwait(false);
        using var self = Process.GetCurrentProcess();
        var serverCpuStart = serverCpu();
        var benchCpuStart = self.TotalProcessorTime;
        var machineStart = MachineCpu.Sample();
        var cpuStart = Stopwatch.GetTimestamp();
        await DelayUntilAsync(window.End, cancellationToken).ConfigureAwait(false);
        var serverCpuUsed = serverCpu() - serverCpuStart;
        self.Refresh();
        var benchCpuUsed = self.TotalProcessorTime - benchCpuStart;
        var machineCores = MachineCpu.Sample().BusyCoresSince(machineStart);
        var cpuWall = Stopwatch.GetElapsedTime(cpuStart);
        await Task.WhenAll(tasks).ConfigureAwait(false);

        long completed = 0;
        long errors = 0;
        var sampleCount = 0;
        string? firstError = null;
        var capped = false;
        foreach (var worker in workers)
        {
            completed += worker.Completed;
            errors += worker.Errors;
            sampleCount += worker.Count;
            firstError ??= worker.FirstError;
            capped |= worker.Capped;
        }

        var samples = new long[sampleCount];
        var offset = 0;
        foreach (var worker in workers)
        {
            Array.Copy(worker.Samples, 0, samples, offset, worker.Count);
            offset += worker.Count;
        }

        Array.Sort(samples);
        return new Measurement(
            concurrency,
            operationKind,
            completed / duration.TotalSeconds,
            ToMilliseconds(Percentile(samples, 0.50)),
            ToMilliseconds(Percentile(samples, 0.99)),
            completed,
            errors,
            firstError,
            serverCpuUsed / cpuWall,
            benchCpuUsed / cpuWall,
            machineCores,
            capped);
    }

    /// <summary>Nearest-rank percentile of sorted samples; 0 when there are none.</summary>
    public static long Percentile(long[] sorted, double fraction)
    {
        if (sorted.Length == 0)
        {
            return 0;
        }

        var rank = (int)Math.Ceiling(fraction * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    private static async Task WorkerAsync(int worker, Operation operation, Window window, WorkerResult result, CancellationToken cancellationToken)
    {
        for (long iteration = 0; ; iteration++)
        {
            var begin = Stopwatch.GetTimestamp();
            if (begin >= window.End)
            {
                return;
            }

            string? error;
            try
            {
                error = await operation(worker, iteration, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                error = ex.GetType().Name + ": " + ex.Message;
            }

            var end = Stopwatch.GetTimestamp();
            if (end >= window.MeasureStart && end < window.End)
            {
                result.Record(end - begin, error);
            }
        }
    }

    private static async Task DelayUntilAsync(long timestamp, CancellationToken cancellationToken)
    {
        var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        if (remaining > TimeSpan.Zero)
        {
            await Task.Delay(remaining, cancellationToken).ConfigureAwait(false);
        }
    }

    private static long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private static double ToMilliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    /// <summary>Stopwatch timestamps: requests completing in [<c>MeasureStart</c>, <c>End</c>) are measured.</summary>
    private sealed record Window(long MeasureStart, long End);

    private sealed class WorkerResult(int capacity)
    {
        public long[] Samples { get; private set; } = new long[Math.Min(capacity, 4096)];

        public int Count { get; private set; }

        public long Completed { get; private set; }

        public long Errors { get; private set; }

        public string? FirstError { get; private set; }

        public bool Capped { get; private set; }

        public void Record(long elapsedTicks, string? error)
        {
            if (error is not null)
            {
                Errors++;
                FirstError ??= error;
                return;
            }

            Completed++;
            if (Count == Samples.Length)
            {
                if (Samples.Length >= capacity)
                {
                    Capped = true;
                    return;
                }

                var grown = new long[Math.Min(capacity, Samples.Length * 2)];
                Array.Copy(Samples, grown, Count);
                Samples = grown;
            }

            Samples[Count++] = elapsedTicks;
        }
    }
}
