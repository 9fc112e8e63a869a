using System.CommandLine;
using System.Net;
using Holdfast.Server;
using Holdfast.Server.Audit;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Cluster;
using Holdfast.Server.Hosting;
using Holdfast.State;
using Holdfast.State.Etcd;
using Holdfast.State.Sqlite;
using Microsoft.Extensions.Logging;

namespace Holdfast.Commands;

/// <summary>
/// <c>holdfast serve</c>: starts the control plane on the embedded SQLite store. The first start creates the data
/// directory's CA, certificates, keys, default tenant and subscription and the bootstrap admin credentials.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "Directory for the store, keys, certificates and admin credentials.", DefaultValueFactory = _ => DefaultDataDirectory() };
        var port = new Option<int>("--port") { Description = "HTTPS port.", DefaultValueFactory = _ => HoldfastServerOptions.DefaultPort };
        var listen = new Option<string>("--listen") { Description = "Address to listen on (loopback unless told otherwise).", DefaultValueFactory = _ => "127.0.0.1" };
        var endpoint = new Option<string?>("--endpoint") { Description = "Public root URL clients use (default https://localhost:{port}/)." };
        var location = new Option<string>("--location") { Description = "Name of the one location (region) served.", DefaultValueFactory = _ => "local" };
        var throttle = new Option<string>("--throttle") { Description = "ARM request throttling: 'on' (Azure's token buckets) or 'off'.", DefaultValueFactory = _ => "on" };
        throttle.AcceptOnlyFromAmong("on", "off");
        var auditRetentionDays = new Option<int?>("--audit-retention-days") { Description = "Truncate activity-log entries older than this many days at a signed anchor (default: keep everything)." };
        var auditCheckpointEvery = new Option<long>("--audit-checkpoint-every") { Description = "Sign an activity-log checkpoint at least every this many entries.", DefaultValueFactory = _ => new AuditOptions().CheckpointEveryEntries };

        var agentPort = new Option<int>("--agent-port") { Description = "HTTPS port for host agents (mTLS); 0 picks a free one.", DefaultValueFactory = _ => 8444 };
        var heartbeatSeconds = new Option<int>("--heartbeat-seconds") { Description = "How often host agents sync.", DefaultValueFactory = _ => 5 };
        var unreachableAfter = new Option<int>("--unreachable-after-seconds") { Description = "A silent host becomes Unreachable after this many seconds.", DefaultValueFactory = _ => 15 };
        var failedAfter = new Option<int>("--failed-after-seconds") { Description = "A silent host becomes Failed (its VMs re-placed) after this many seconds.", DefaultValueFactory = _ => 60 };
        var agentCertificateValidity = new Option<string?>("--agent-certificate-validity") { Description = "How long agents' client certificates are valid (days, or 30d, 12h, 15m, 90s); agents renew after about two thirds. Default 30 days." };
        var simulatedHosts = new Option<int>("--simulated-hosts") { Description = "Run this many simulated hosts in-process (simulated hardware).", DefaultValueFactory = _ => 0 };

        var command = new Command("serve", "Start the control plane (HTTPS, embedded SQLite store).") { dataDir, port, listen, endpoint, location, throttle, auditRetentionDays, auditCheckpointEvery };
        var store = new Option<string?>("--store") { Description = "State store: etcd://host:port[,host:port…] for an etcd cluster, etcds://… for etcd over TLS (default: SQLite in --data-dir)." };
        command.Options.Add(store);
        var etcdTls = new EtcdTlsOptions();
        etcdTls.AddTo(command);
        var clusterTokenFile = new Option<string?>("--cluster-token-file") { Description = $"With an etcd store: file holding the cluster token, the key to the secrets replicas share (or set {ClusterToken.EnvironmentVariable})." };
        command.Options.Add(clusterTokenFile);
        command.Options.Add(agentPort);
        command.Options.Add(heartbeatSeconds);
        command.Options.Add(unreachableAfter);
        command.Options.Add(failedAfter);
        command.Options.Add(simulatedHosts);
        command.Options.Add(agentCertificateValidity);
        var replicaId = new Option<string?>("--replica-id") { Description = "This replica's name among replicas sharing one store (default: machine name and --port)." };
        var leaderLeaseSeconds = new Option<int>("--leader-lease-seconds") { Description = "TTL of the lease that holds leadership; a dead leader is replaced after about this long.", DefaultValueFactory = _ => 4 };
        command.Options.Add(replicaId);
        command.Options.Add(leaderLeaseSeconds);
        var maxSchema = new Option<int?>("--max-schema") { Description = "Test and rollback aid: read and write stored documents at schema versions up to N only, as an earlier release.", Hidden = true };
        command.Options.Add(maxSchema);
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(port) is var portNumber && (portNumber < 1 || portNumber > 65535))
            {
                return Fail($"--port must be between 1 and 65535, not {portNumber}.");
            }

            if (!IPAddress.TryParse(parse.GetValue(listen), out var address))
            {
                return Fail($"--listen must be an IP address, not '{parse.GetValue(listen)}'.");
            }

            Uri? endpointUri = null;
            if (parse.GetValue(endpoint) is { } endpointText && (!Uri.TryCreate(endpointText, UriKind.Absolute, out endpointUri) || endpointUri.Scheme != Uri.UriSchemeHttps))
            {
                return Fail($"--endpoint must be an absolute https URL, not '{endpointText}'.");
            }

            var locationName = parse.GetValue(location)!;
            if (locationName.Length == 0 || !locationName.All(char.IsAsciiLetterOrDigit))
            {
                return Fail($"--location must be letters and digits, not '{locationName}'.");
            }

            if (parse.GetValue(auditRetentionDays) is { } days && days < 1)
            {
                return Fail($"--audit-retention-days must be at least 1, not {days}.");
            }

            if (parse.GetValue(auditCheckpointEvery) is var every && every < 1)
            {
                return Fail($"--audit-checkpoint-every must be at least 1, not {every}.");
            }

            var certificateValidity = Holdfast.Server.Agents.AgentCertificateLifetime.Default;
            if (parse.GetValue(agentCertificateValidity) is { } validityText && !Holdfast.Server.Agents.AgentCertificateLifetime.TryParse(validityText, out certificateValidity, out var validityError))
            {
                return Fail(validityError);
            }

            EtcdStateStoreOptions? etcd = null;
            if (parse.GetValue(store) is null && etcdTls.AnyEtcdFlag(parse))
            {
                return Fail("--etcd-ca-file, --etcd-cert-file, --etcd-key-file and --etcd-api apply only with --store etcd(s)://….");
            }

            if (parse.GetValue(store) is { } storeText)
            {
                try
                {
                    etcd = etcdTls.Parse(parse, storeText);
                }
                catch (FormatException ex)
                {
                    return Fail("--store: " + ex.Message);
                }
            }

            ClusterToken? clusterToken = null;
            try
            {
                clusterToken = etcd is null ? null : ClusterToken.Resolve(parse.GetValue(clusterTokenFile));
            }
            catch (StartupException ex)
            {
                return Fail(ex.Message);
            }

            if (etcd is not null && clusterToken is null)
            {
                return Fail($"--store etcd://… needs the cluster token (the same on every replica): --cluster-token-file PATH or {ClusterToken.EnvironmentVariable}; make one with 'openssl rand -hex 32'.");
            }

            if (etcd is null && parse.GetValue(clusterTokenFile) is not null)
            {
                return Fail("--cluster-token-file applies only with --store etcd://….");
            }

            var options = new HoldfastServerOptions
            {
                ClusterToken = clusterToken,
                DataDirectory = parse.GetValue(dataDir)!,
                Port = portNumber,
                ListenAddress = address,
                Endpoint = endpointUri is null ? null : new Uri(endpointUri.GetLeftPart(UriPartial.Authority) + "/"),
                Location = locationName.ToLowerInvariant(),
                LocationDisplayName = char.ToUpperInvariant(locationName[0]) + locationName[1..],
                Throttle = new ThrottleOptions { Enabled = parse.GetValue(throttle) == "on" },
                Audit = new AuditOptions
                {
                    CheckpointEveryEntries = every,
                    Retention = parse.GetValue(auditRetentionDays) is { } retentionDays ? TimeSpan.FromDays(retentionDays) : null,
                },
                AgentPort = parse.GetValue(agentPort),
                HeartbeatSeconds = parse.GetValue(heartbeatSeconds),
                UnreachableAfterSeconds = parse.GetValue(unreachableAfter),
                FailedAfterSeconds = parse.GetValue(failedAfter),
                SimulatedHosts = parse.GetValue(simulatedHosts),
                AgentCertificateValidity = certificateValidity,
                ReplicaId = parse.GetValue(replicaId),
                LeaderLeaseSeconds = parse.GetValue(leaderLeaseSeconds),
                MaxSchema = parse.GetValue(maxSchema),
                StoreKind = etcd is null ? "sqlite" : "etcd",
            };
            if (Holdfast.Server.Agents.AgentTimingCheck.Errors(options) is { Count: > 0 } agentErrors)
            {
                return Fail(string.Join(" ", agentErrors));
            }

            if (Holdfast.Server.Cluster.ReplicaOptionsCheck.Errors(options) is { Count: > 0 } replicaErrors)
            {
                return Fail(string.Join(" ", replicaErrors));
            }

            return await RunAsync(options, etcd, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(HoldfastServerOptions options, EtcdStateStoreOptions? etcd, CancellationToken cancellationToken)
    {
        var time = TimeProvider.System;
        try
        {
            var dataDirectory = DataDirectory.Open(options.DataDirectory);
            await using var store = await OpenStoreAsync(dataDirectory.StatePath, etcd, time, cancellationToken).ConfigureAwait(false);
            await using var server = await HoldfastServer.StartAsync(options, dataDirectory, store, time, ConfigureLogging, cancellationToken).ConfigureAwait(false);
            Console.Out.WriteLine($"holdfast agent port: {server.AgentEndpoint} (heartbeat {options.HeartbeatSeconds} s; Unreachable after {options.UnreachableAfterSeconds} s; Failed after {options.FailedAfterSeconds} s; simulated hosts {options.SimulatedHosts})");
            Console.Out.WriteLine(
                $"holdfast ready: {options.ResolvedEndpoint} (listening on {options.ListenAddress}:{options.Port}; data {dataDirectory.Root}; admin credentials {dataDirectory.AdminCredentialsPath}; CA {dataDirectory.CaCertificatePath})");
            await Console.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
            await server.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
            return 0;
        }
        catch (StartupException ex)
        {
            return Fail(ex.Message);
        }
        catch (StateStoreException ex)
        {
            return Fail("The state store could not be opened: " + ex.Message);
        }
    }

    private static async Task<IStateStore> OpenStoreAsync(string path, EtcdStateStoreOptions? etcd, TimeProvider time, CancellationToken cancellationToken) =>
        etcd is not null
            ? await EtcdStateStore.OpenAsync(etcd, cancellationToken).ConfigureAwait(false)
            : await SqliteStateStore.OpenAsync(path, new SqliteStateStoreOptions(), time, cancellationToken).ConfigureAwait(false);

    private static void ConfigureLogging(ILoggingBuilder logging)
    {
        logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            console.UseUtcTimestamp = true;
        });
        logging.SetMinimumLevel(LogLevel.Information);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("System", LogLevel.Warning);
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("holdfast: " + message);
        return 2;
    }

    private static string DefaultDataDirectory() =>
        Environment.GetEnvironmentVariable("HOLDFAST_DATA_DIR") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".holdfast");
}
