using System.CommandLine;
using System.Runtime.InteropServices;

namespace Holdfast.Commands.Cluster;

/// <summary>
/// <c>holdfast cluster up</c>: a local HA cluster on 127.0.0.1 for trying and testing — an etcd cluster of
/// <c>--etcd-members</c> and <c>--replicas</c> <c>holdfast serve</c> replicas on it — until Ctrl-C or SIGTERM,
/// which stops every child. Ports from <c>--base-port</c> P: etcd member i client P+i and peer P+10+i, replica j
/// API P+20+j and agents P+30+j. Layout under <c>--dir</c>: <c>etcd/m{i}</c>, <c>replicas/r{j}</c>, <c>logs/</c>,
/// <c>cluster-token</c>.
/// </summary>
internal static class ClusterCommand
{
    public const int DefaultBasePort = 12379;

    public static Command Create()
    {
        var command = new Command("cluster", "Run a local HA cluster (etcd members and control-plane replicas on 127.0.0.1).");
        command.Subcommands.Add(Up());
        return command;
    }

    /// <summary>
    /// How to invoke a parsed command line: <c>cluster up</c> handles SIGINT and SIGTERM itself (stopping its
    /// children takes longer than System.CommandLine's two-second termination timeout); everything else as before.
    /// </summary>
    public static InvocationConfiguration InvocationFor(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        return parse.CommandResult.Command.Name == "up" && parse.CommandResult.Parent is System.CommandLine.Parsing.CommandResult { Command.Name: "cluster" }
            ? new InvocationConfiguration { ProcessTerminationTimeout = null }
            : new InvocationConfiguration();
    }

    private static Command Up()
    {
        var dir = new Option<string>("--dir") { Description = "Directory for the members' and replicas' data, logs and the cluster token.", Required = true };
        var replicas = new Option<int>("--replicas") { Description = "Control-plane replicas (1–9).", DefaultValueFactory = _ => 3 };
        var members = new Option<int>("--etcd-members") { Description = "etcd members (1–9; 3 survives the loss of one).", DefaultValueFactory = _ => 3 };
        var basePort = new Option<int>("--base-port") { Description = "First of the 40 ports used (etcd clients P.., peers P+10.., replica APIs P+20.., agents P+30..).", DefaultValueFactory = _ => DefaultBasePort };
        var etcd = new Option<string>("--etcd") { Description = "The etcd executable.", DefaultValueFactory = _ => "/usr/bin/etcd" };
        var command = new Command("up", "Start a local etcd cluster and control-plane replicas on it; Ctrl-C stops them all.") { dir, replicas, members, basePort, etcd };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new LocalClusterOptions(Path.GetFullPath(parse.GetValue(dir)!), parse.GetValue(replicas), parse.GetValue(members), parse.GetValue(basePort), parse.GetValue(etcd)!);
            if (options.Validate() is { } problem)
            {
                Console.Error.WriteLine("holdfast cluster up: " + problem);
                return 2;
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            await using var cluster = new LocalCluster(options, Console.Out);
            return await cluster.RunAsync(stop.Token).ConfigureAwait(false);

            void Stop(PosixSignalContext context)
            {
                context.Cancel = true;
                stop.Cancel();
            }
        });
        return command;
    }
}

/// <summary>What <c>cluster up</c> starts and where.</summary>
internal sealed record LocalClusterOptions(string Directory, int Replicas, int EtcdMembers, int BasePort, string EtcdPath)
{
    public int EtcdClientPort(int member) => BasePort + member;

    public int EtcdPeerPort(int member) => BasePort + 10 + member;

    public int ApiPort(int replica) => BasePort + 20 + replica;

    public int AgentPort(int replica) => BasePort + 30 + replica;

    public string TokenPath => Path.Combine(Directory, "cluster-token");

    /// <summary>The cluster's one name (every replica's <c>--endpoint</c>): the first replica's address.</summary>
    public string ClusterEndpoint => $"https://localhost:{ApiPort(0)}/";

    public string LogDirectory => Path.Combine(Directory, "logs");

    public string EtcdDataDirectory(int member) => Path.Combine(Directory, "etcd", $"m{member}");

    public string ReplicaDataDirectory(int replica) => Path.Combine(Directory, "replicas", $"r{replica + 1}");

    public string StoreUrl => "etcd://" + string.Join(',', Enumerable.Range(0, EtcdMembers).Select(i => $"127.0.0.1:{EtcdClientPort(i)}"));

    public string? Validate() =>
        Replicas is < 1 or > 9 ? $"--replicas must be 1 to 9, not {Replicas}."
        : EtcdMembers is < 1 or > 9 ? $"--etcd-members must be 1 to 9, not {EtcdMembers}."
        : BasePort is < 1024 or > 65535 - 40 ? $"--base-port must be 1024 to {65535 - 40}, not {BasePort}."
        : !File.Exists(EtcdPath) ? $"there is no etcd at '{EtcdPath}' (install etcd-server, or pass --etcd)."
        : null;
}
