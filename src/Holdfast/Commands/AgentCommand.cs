using System.CommandLine;
using System.Globalization;
using Holdfast.Agent;
using Holdfast.Agent.Drivers.Qemu;
using Holdfast.Agent.Drivers.Simulated;
using Holdfast.Agent.Transport;
using Holdfast.Capacity.Inventory;
using Microsoft.Extensions.Logging;

namespace Holdfast.Commands;

/// <summary>
/// <c>holdfast agent</c>: the host agent, one per host. Joins the server's agent port once with a one-time token (the
/// identity it gets is kept in <c>--state-dir</c>, so a restart needs no token), then syncs every heartbeat. Logs to
/// stdout; never logs the token or keys.
/// </summary>
internal static class AgentCommand
{
    public const string JoinTokenVariable = "HOLDFAST_JOIN_TOKEN";

    public static Command Create()
    {
        var server = new Option<string>("--server") { Description = "The server's agent endpoint, e.g. https://127.0.0.1:8444.", Required = true };
        var hostName = new Option<string>("--host-name") { Description = "This host's name, as the operator registered it.", Required = true };
        var joinToken = new Option<string?>("--join-token") { Description = $"The one-time join token (or set {JoinTokenVariable}); not needed once joined." };
        var caFile = new Option<string>("--ca-file") { Description = "The site CA certificate (PEM), the only trust anchor for the server.", Required = true };
        var stateDir = new Option<string>("--state-dir") { Description = "Where the agent keeps its key, certificate and state (0600).", Required = true };
        var driver = new Option<string>("--driver") { Description = "The VM driver: 'simulated' (simulated hardware) or 'qemu' (real VMs, docs/drivers.md).", DefaultValueFactory = _ => SimulatedVmDriver.DriverName };
        var vcpus = new Option<int>("--vcpus") { Description = "Simulated driver: vCPUs.", DefaultValueFactory = _ => 16 };
        var memory = new Option<int>("--memory-mib") { Description = "Simulated driver: memory in MiB.", DefaultValueFactory = _ => 65536 };
        var disk = new Option<int>("--disk-gib") { Description = "Simulated driver: local disk in GiB.", DefaultValueFactory = _ => 512 };
        var gpus = new Option<int>("--gpus") { Description = "Simulated driver: GPUs.", DefaultValueFactory = _ => 0 };
        var traits = new Option<string?>("--traits") { Description = "Simulated driver: comma-separated traits (e.g. ssd,gpu)." };
        var createLatency = new Option<int>("--create-latency-ms") { Description = "Simulated driver: how long creating a VM takes.", DefaultValueFactory = _ => 0 };
        var failureRate = new Option<double>("--failure-rate") { Description = "Simulated driver: probability (0-1) that an operation fails.", DefaultValueFactory = _ => 0 };
        var seed = new Option<int?>("--seed") { Description = "Simulated driver: seed for failure injection (reproducible runs)." };
        var qemuAccel = new Option<string>("--qemu-accel") { Description = "qemu driver: 'auto' (KVM only if a test boot proves it works), 'tcg' or 'kvm'.", DefaultValueFactory = _ => "auto" };
        var qemuMemoryScale = new Option<double>("--qemu-memory-scale") { Description = "qemu driver: guest memory = the size's memory times this (at least 128 MiB); 1 on a real host.", DefaultValueFactory = _ => 0.125 };
        var qemuMaxVcpus = new Option<int>("--qemu-max-vcpus") { Description = "qemu driver: at most this many vCPUs per guest.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var qemuDefaultImage = new Option<string>("--qemu-default-image") { Description = "qemu driver: the local image used when a VM's image reference matches none.", DefaultValueFactory = _ => "default" };
        var qemuShutdownTimeout = new Option<int>("--qemu-shutdown-timeout-seconds") { Description = "qemu driver: how long a graceful shutdown may take before a hard stop.", DefaultValueFactory = _ => 15 };

        var command = new Command("agent", "Run the host agent (joins once, then syncs with the server over mTLS).")
        {
            server, hostName, joinToken, caFile, stateDir, driver, vcpus, memory, disk, gpus, traits, createLatency, failureRate, seed,
            qemuAccel, qemuMemoryScale, qemuMaxVcpus, qemuDefaultImage, qemuShutdownTimeout,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!Uri.TryCreate(parse.GetValue(server), UriKind.Absolute, out var serverUri) || serverUri.Scheme != Uri.UriSchemeHttps)
            {
                return Fail($"--server must be an absolute https URL, not '{parse.GetValue(server)}'.");
            }

            var driverName = parse.GetValue(driver);
            if (driverName != SimulatedVmDriver.DriverName && driverName != QemuVmDriver.DriverName)
            {
                return Fail($"--driver must be '{SimulatedVmDriver.DriverName}' or '{QemuVmDriver.DriverName}', not '{driverName}'.");
            }

            if (parse.GetValue(qemuAccel) is not ("auto" or "tcg" or "kvm"))
            {
                return Fail($"--qemu-accel must be 'auto', 'tcg' or 'kvm', not '{parse.GetValue(qemuAccel)}'.");
            }

            if (parse.GetValue(qemuMemoryScale) is var scale && (scale is <= 0 or > 1 || double.IsNaN(scale)))
            {
                return Fail($"--qemu-memory-scale must be more than 0 and at most 1, not {scale.ToString(CultureInfo.InvariantCulture)}.");
            }

            if (parse.GetValue(qemuMaxVcpus) < 1 || parse.GetValue(qemuShutdownTimeout) < 0)
            {
                return Fail("--qemu-max-vcpus must be at least 1 and --qemu-shutdown-timeout-seconds not negative.");
            }

            var name = parse.GetValue(hostName)!;
            if (name.Length is 0 or > 63 || !char.IsAsciiLetterOrDigit(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return Fail($"--host-name must be 1-63 letters, digits and hyphens starting with a letter or digit, not '{name}'.");
            }

            var caPath = parse.GetValue(caFile)!;
            if (!File.Exists(caPath))
            {
                return Fail($"--ca-file '{caPath}' does not exist.");
            }

            var capacity = new CapacityVector(parse.GetValue(vcpus), parse.GetValue(memory), parse.GetValue(disk), parse.GetValue(gpus));
            if (!capacity.IsNonNegative || capacity.IsZero)
            {
                return Fail("--vcpus, --memory-mib, --disk-gib and --gpus must not be negative, and not all zero.");
            }

            if (parse.GetValue(createLatency) is var latency && latency < 0)
            {
                return Fail($"--create-latency-ms must not be negative, not {latency}.");
            }

            if (parse.GetValue(failureRate) is var rate && (rate is < 0 or > 1 || double.IsNaN(rate)))
            {
                return Fail($"--failure-rate must be between 0 and 1, not {rate.ToString(CultureInfo.InvariantCulture)}.");
            }

            var stateDirectory = Path.GetFullPath(parse.GetValue(stateDir)!);
            var token = parse.GetValue(joinToken) ?? Environment.GetEnvironmentVariable(JoinTokenVariable);
            var driverOptions = new SimulatedVmDriverOptions
            {
                Capacity = capacity,
                Traits = [.. (parse.GetValue(traits) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
                StatePath = Path.Combine(stateDirectory, "vms.json"),
                CreateLatency = TimeSpan.FromMilliseconds(latency),
                FailureRate = rate,
                Seed = parse.GetValue(seed),
                AgentVersion = typeof(AgentCommand).Assembly.GetName().Version?.ToString() ?? "0.0.0",
            };
            var qemuOptions = driverName != QemuVmDriver.DriverName ? null : new QemuVmDriverOptions
            {
                DataDirectory = stateDirectory,
                Capacity = capacity,
                Traits = driverOptions.Traits,
                AgentVersion = driverOptions.AgentVersion,
                Accelerator = parse.GetValue(qemuAccel)!,
                MemoryScale = scale,
                MaxVcpus = parse.GetValue(qemuMaxVcpus),
                DefaultImage = parse.GetValue(qemuDefaultImage),
                ShutdownTimeout = TimeSpan.FromSeconds(parse.GetValue(qemuShutdownTimeout)),
            };
            return await RunAsync(serverUri, name, token, caPath, stateDirectory, driverOptions, qemuOptions, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(Uri server, string hostName, string? token, string caPath, string stateDirectory, SimulatedVmDriverOptions driverOptions, QemuVmDriverOptions? qemuOptions, CancellationToken cancellationToken)
    {
        using var loggers = LoggerFactory.Create(logging =>
        {
            logging.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                console.UseUtcTimestamp = true;
            });
            logging.SetMinimumLevel(LogLevel.Information);
        });
        var logger = loggers.CreateLogger("Holdfast.Agent");
        try
        {
            Directory.CreateDirectory(stateDirectory);
            using var ca = HttpsAgentTransport.LoadCaCertificate(caPath);
            using var transport = new HttpsAgentTransport(server, ca, TimeSpan.FromSeconds(10));
            IVmDriver driver = new SimulatedVmDriver(driverOptions, TimeProvider.System);
            var driverLabel = SimulatedVmDriver.DriverName + ", simulated";
            if (qemuOptions is not null)
            {
                if (qemuOptions.Accelerator == "auto")
                {
                    var image = new ImageStore(stateDirectory).Find(qemuOptions.DefaultImage ?? "default");
                    var (accel, reason) = await QemuAcceleratorProbe.ProbeAsync(qemuOptions.QemuPath, image?.Kernel, image?.Initrd, TimeSpan.FromSeconds(15), cancellationToken).ConfigureAwait(false);
                    logger.LogAccelerator(accel, reason);
                    qemuOptions = qemuOptions with { Accelerator = accel };
                }

                driver = new QemuVmDriver(qemuOptions, TimeProvider.System, loggers.CreateLogger<QemuVmDriver>());
                driverLabel = $"{QemuVmDriver.DriverName}, {qemuOptions.Accelerator}";
            }

            var agent = new HostAgent(new HostAgentOptions { HostName = hostName, JoinToken = token, StateDirectory = stateDirectory }, driver, transport, TimeProvider.System, loggers.CreateLogger<HostAgent>());
            await agent.EnsureJoinedAsync(cancellationToken).ConfigureAwait(false);
            Console.Out.WriteLine($"holdfast agent ready: host {hostName.ToLowerInvariant()} (server {server}; state {stateDirectory}; driver {driverLabel})");
            await Console.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
            await agent.RunAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
        catch (AgentTransportException ex) when (ex.IsRejection)
        {
            logger.LogAgentRefused(ex.Message);
            return Fail("the server refused the agent: " + ex.Message, 1);
        }
        catch (InvalidOperationException ex)
        {
            return Fail(ex.Message, 1);
        }
        catch (System.Security.Cryptography.CryptographicException ex)
        {
            return Fail($"--ca-file or the agent's state in '{stateDirectory}' cannot be read: {ex.Message}", 1);
        }
    }

    private static int Fail(string message, int exitCode = 2)
    {
        Console.Error.WriteLine("holdfast agent: " + message);
        return exitCode;
    }
}

internal static partial class AgentCommandLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "The server refused the agent: {Reason}")]
    public static partial void LogAgentRefused(this ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "qemu driver accelerator: {Accelerator} ({Reason})")]
    public static partial void LogAccelerator(this ILogger logger, string accelerator, string reason);
}
