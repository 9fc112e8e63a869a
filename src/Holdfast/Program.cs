using System.CommandLine;
using Holdfast.Commands;

var root = new RootCommand("Holdfast: a sovereign cloud control plane with an Azure Resource Manager–consistent API.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(VersionCommand.Create());
root.Subcommands.Add(Holdfast.Commands.Bench.BenchCommand.Create());
root.Subcommands.Add(AuditCommand.Create());
root.Subcommands.Add(AgentCommand.Create());
root.Subcommands.Add(Holdfast.Commands.Backup.BackupCommand.Create());
root.Subcommands.Add(Holdfast.Commands.Backup.RestoreCommand.Create());
root.Subcommands.Add(ImageCommand.Create());
root.Subcommands.Add(Holdfast.Commands.Cluster.ClusterCommand.Create());
var parsed = root.Parse(args);
return await parsed.InvokeAsync(Holdfast.Commands.Cluster.ClusterCommand.InvocationFor(parsed)).ConfigureAwait(false);
