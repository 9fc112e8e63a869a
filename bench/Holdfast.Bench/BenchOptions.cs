using System.Globalization;

namespace Holdfast.Bench;

/// <summary>
/// The command line. Every knob is bounded so one run always ends: at most <see cref="MaxSeconds"/> per measurement,
/// <see cref="MaxRounds"/> rounds and <see cref="MaxConcurrency"/> workers.
/// </summary>
internal sealed record BenchOptions
{
    public const int MaxSeconds = 120;
    public const int MaxRounds = 9;
    public const int MaxConcurrency = 256;

    public const string Usage = """
        Holdfast.Bench: client/server load test of holdfast serve over HTTPS/1.1 on 127.0.0.1.

        Usage: dotnet run -c Release --project bench/Holdfast.Bench -- [options]

          --seconds N        measured seconds per operation and concurrency level (default 5, max 120)
          --warmup N         warm-up seconds before each measurement, not recorded (default 1, max 30)
          --rounds N         repeat the whole matrix N times and report the median (default 1, max 9)
          --concurrency LIST comma-separated worker counts (default 1,16,64, max 256)
          --prime N          seconds of unrecorded load per operation once the server is up, so both JITs reach
                             steady state before the first cell (default 2, max 30)
          --settle N         before each cell, after the server is idle, wait up to N s for the whole machine to go
                             idle (default 2, max 120)
          --names N          resource-group names each PUT worker cycles through (default 50)
          --value-bytes N    value size for the raw store run (default 500, like a resource-group document)
          --etcd-api A       with --store etcd: the server's --etcd-api, grpc (its default) or gateway
          --server-env K=V   set an environment variable for the server process only (repeatable), e.g. to try a
                             runtime knob: --server-env DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0
          --vms N            instead of the load matrix: create N VMs end to end (PUT, then poll to Succeeded) on a
                             simulated fleet, with the largest --concurrency level as workers (max 20000)
          --hosts N          simulated hosts for --vms (default 1000, max 10000)
          --heartbeat N      the simulated hosts' heartbeat seconds for --vms (default 1)
          --store etcd       run the server on a local 3-member etcd cluster this tool starts (/usr/bin/etcd, loopback,
                             fsync on) and compare PUT with raw etcd puts through its JSON gateway (default: sqlite)
          --failover N       instead of the load matrix: on a local 3-member etcd and 3 replicas, N times each kill -9
                             the leader replica, then the etcd leader, and time the first successful write and the
                             new leader / a VM created after the kill reaching Succeeded; with etcd defaults and lease
                             4 s, then tuned (etcd heartbeat 50 ms, election 500 ms, lease 2 s); medians (max 9)
          --holdfast PATH    the server's holdfast.dll (default src/Holdfast/bin/Release/net10.0/holdfast.dll under the repo root)
          --help             this text

        Exit code: 0 when the run completed (targets missed or not), 1 on a setup failure, 2 on bad arguments.
        """;

    public double Seconds { get; init; } = 5;

    public double WarmupSeconds { get; init; } = 1;

    public int Rounds { get; init; } = 1;

    public IReadOnlyList<int> Concurrency { get; init; } = [1, 16, 64];

    public double PrimeSeconds { get; init; } = 2;

    public double SettleSeconds { get; init; } = 2;

    public int Names { get; init; } = 50;

    public int ValueBytes { get; init; } = 500;

    public string? HoldfastPath { get; init; }

    public IReadOnlyList<KeyValuePair<string, string>> ServerEnvironment { get; init; } = [];

    public bool Help { get; init; }

    /// <summary><c>--store etcd</c>: the server on a local 3-member etcd cluster instead of SQLite.</summary>
    public bool Etcd { get; init; }

    /// <summary>With <see cref="Etcd"/>: the API the server speaks to etcd (its <c>--etcd-api</c>); null: the server's default.</summary>
    public string? EtcdApi { get; init; }

    /// <summary>VMs to create end to end; 0 runs the HTTP load matrix instead.</summary>
    public int Vms { get; init; }

    public int Hosts { get; init; } = 1000;

    public int HeartbeatSeconds { get; init; } = 1;

    /// <summary>Failover runs per fault and configuration; 0 runs the HTTP load matrix instead.</summary>
    public int Failover { get; init; }

    /// <summary>Parses <paramref name="args"/>; a problem is returned as <paramref name="error"/> and the result is null.</summary>
    public static BenchOptions? Parse(IReadOnlyList<string> args, out string? error)
    {
        var options = new BenchOptions();
        error = null;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name is "--help" or "-h" or "-?")
            {
                return options with { Help = true };
            }

            if (i + 1 >= args.Count)
            {
                error = $"'{name}' needs a value (or is unknown).";
                return null;
            }

            var value = args[++i];
            switch (name)
            {
                case "--seconds":
                    options = options with { Seconds = ParseNumber(name, value, 0.1, MaxSeconds, ref error) };
                    break;
                case "--warmup":
                    options = options with { WarmupSeconds = ParseNumber(name, value, 0, 30, ref error) };
                    break;
                case "--rounds":
                    options = options with { Rounds = (int)ParseNumber(name, value, 1, MaxRounds, ref error) };
                    break;
                case "--prime":
                    options = options with { PrimeSeconds = ParseNumber(name, value, 0, 30, ref error) };
                    break;
                case "--settle":
                    options = options with { SettleSeconds = ParseNumber(name, value, 0, 120, ref error) };
                    break;
                case "--names":
                    options = options with { Names = (int)ParseNumber(name, value, 1, 1000, ref error) };
                    break;
                case "--value-bytes":
                    options = options with { ValueBytes = (int)ParseNumber(name, value, 1, 1 << 20, ref error) };
                    break;
                case "--vms":
                    options = options with { Vms = (int)ParseNumber(name, value, 1, 20000, ref error) };
                    break;
                case "--hosts":
                    options = options with { Hosts = (int)ParseNumber(name, value, 1, 10000, ref error) };
                    break;
                case "--heartbeat":
                    options = options with { HeartbeatSeconds = (int)ParseNumber(name, value, 1, 60, ref error) };
                    break;
                case "--failover":
                    options = options with { Failover = (int)ParseNumber(name, value, 1, MaxRounds, ref error) };
                    break;
                case "--store":
                    if (value is not ("etcd" or "sqlite"))
                    {
                        error = $"--store is etcd or sqlite, not '{value}'.";
                        break;
                    }

                    options = options with { Etcd = value == "etcd" };
                    break;
                case "--holdfast":
                    options = options with { HoldfastPath = value };
                    break;
                case "--etcd-api":
                    if (value is not ("grpc" or "gateway"))
                    {
                        error = $"--etcd-api is grpc or gateway, not '{value}'.";
                        break;
                    }

                    options = options with { EtcdApi = value };
                    break;
                case "--server-env":
                    var equals = value.IndexOf('=', StringComparison.Ordinal);
                    if (equals <= 0)
                    {
                        error = $"--server-env needs NAME=VALUE, not '{value}'.";
                        break;
                    }

                    options = options with { ServerEnvironment = [.. options.ServerEnvironment, new(value[..equals], value[(equals + 1)..])] };
                    break;
                case "--concurrency":
                    var levels = new List<int>();
                    foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        levels.Add((int)ParseNumber(name, part, 1, MaxConcurrency, ref error));
                    }

                    if (levels.Count == 0)
                    {
                        error ??= "--concurrency needs at least one level.";
                    }

                    options = options with { Concurrency = levels };
                    break;
                default:
                    error = $"Unknown option '{name}'.";
                    break;
            }

            if (error is not null)
            {
                return null;
            }
        }

        if (options.Etcd && options.Vms > 0)
        {
            error = "--store etcd applies to the load matrix, not to --vms.";
            return null;
        }

        return options;
    }

    private static double ParseNumber(string name, string text, double min, double max, ref string? error)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            error ??= $"{name} must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, not '{text}'.";
            return min;
        }

        return value;
    }
}
