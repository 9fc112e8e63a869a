using System.CommandLine;
using Holdfast.Server.Audit;
using Holdfast.Server.Bootstrap;
using Holdfast.Server.Cluster;
using Holdfast.State;
using Holdfast.State.Etcd;
using Holdfast.State.Snapshots;
using Holdfast.State.Sqlite;

namespace Holdfast.Commands.Backup;

/// <summary>
/// <c>holdfast restore</c>: a snapshot into an empty store — a fresh SQLite file or an empty etcd cluster. The whole
/// file is verified (structure, counts, SHA-256) before anything is written; a store that holds any key is refused.
/// With <c>--data-dir</c> the snapshot's data-directory files are written there (never over an existing file).
/// Exit codes: 0 restored, 1 refused (damaged file, target not empty), 2 the command could not run.
/// </summary>
internal static class RestoreCommand
{
    private const int Refused = 1;

    public static Command Create()
    {
        var input = new Option<string>("--in") { Description = "The snapshot file (holdfast backup --out).", Required = true };
        var store = new Option<string?>("--store") { Description = "The empty store to restore into: a SQLite file or etcd[s]://host:port[,host:port…] (default: DIR/state.db of --data-dir)." };
        var dataDir = new Option<string?>("--data-dir") { Description = "A new data directory for the snapshot's secrets (tls/, keys/, audit/, admin-credentials.json)." };
        var tokenFile = new Option<string?>("--cluster-token-file") { Description = "With an etcd store: the cluster token under which the data directory's secrets are published to /cluster/secrets." };
        var command = new Command("restore", "Restore a snapshot into an empty store (and its secrets into a new data directory).") { input, store, dataDir, tokenFile };
        var etcdTls = new EtcdTlsOptions();
        etcdTls.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var dir = parse.GetValue(dataDir) is { } d ? Path.GetFullPath(d) : null;
            var storeText = parse.GetValue(store) ?? (dir is null ? null : Path.Combine(dir, "state.db"));
            if (storeText is null)
            {
                return Fail("give --store, --data-dir or both.");
            }

            bool etcd = EtcdTlsOptions.IsEtcd(storeText);
            var token = parse.GetValue(tokenFile);
            if (token is not null && (!etcd || dir is null))
            {
                return Fail("--cluster-token-file publishes a data directory's secrets into etcd: it needs an etcd://… (or etcds://…) --store and --data-dir.");
            }

            try
            {
                var etcdOptions = etcd || etcdTls.AnyEtcdFlag(parse) ? etcdTls.Parse(parse, storeText) : null;
                return await RunAsync(Path.GetFullPath(parse.GetValue(input)!), storeText, etcdOptions, dir, token, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidDataException ex)
            {
                return Refuse("the snapshot is damaged and was not restored: " + ex.Message);
            }
            catch (SnapshotTargetNotEmptyException ex)
            {
                return Refuse(ex.Message);
            }
            catch (Exception ex) when (ex is StateStoreException or IOException or UnauthorizedAccessException or FormatException or ArgumentException)
            {
                return Fail(ex.Message);
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(string inputPath, string storeText, EtcdStateStoreOptions? etcdOptions, string? dataDirectory, string? tokenFile, CancellationToken cancellationToken)
    {
        bool etcd = etcdOptions is not null;
        await using var input = new FileStream(inputPath, FileMode.Open, FileAccess.Read, FileShare.Read);
        var filePaths = new List<string>();
        var header = await SnapshotRestore.VerifyAsync(input, filePaths, cancellationToken).ConfigureAwait(false);
        input.Position = 0;

        using var dataLock = dataDirectory is null ? null : LockNewDataDirectory(dataDirectory);
        if (dataDirectory is not null && DataDirectoryFiles.Existing(dataDirectory, filePaths) is { Count: > 0 } existing)
        {
            return Refuse($"'{dataDirectory}' already holds {string.Join(", ", existing)}; restore into a new data directory.");
        }

        string? createdFile = null;
        if (!etcd)
        {
            var path = Path.GetFullPath(storeText);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (!File.Exists(path))
            {
                createdFile = path;
            }
        }

        bool restored = false;
        try
        {
            await using var store = etcd
                ? (IStateStore)await EtcdStateStore.OpenAsync(etcdOptions!, cancellationToken).ConfigureAwait(false)
                : await SqliteStateStore.OpenAsync(Path.GetFullPath(storeText), new SqliteStateStoreOptions(), TimeProvider.System, cancellationToken).ConfigureAwait(false);
            await SnapshotRestore.RestoreAsync(
                input,
                store,
                dataDirectory is null ? null : (file, _) =>
                {
                    DataDirectoryFiles.Write(dataDirectory, file);
                    return ValueTask.CompletedTask;
                },
                new SnapshotRestoreOptions(),
                cancellationToken).ConfigureAwait(false);
            restored = true;

            if (tokenFile is not null)
            {
                // The install's shared material enters the store, sealed under the cluster token (docs/designs/0008-cluster-material.md).
                if (await store.GetAsync(ClusterSecrets.CaKey, cancellationToken).ConfigureAwait(false) is not null)
                {
                    Console.Out.WriteLine($"The snapshot carries its cluster secrets ({ClusterSecrets.Prefix}); replicas open them with that cluster's token.");
                }
                else
                {
                    try
                    {
                        await ClusterSecrets.PublishFromDataDirectoryAsync(store, DataDirectory.Open(dataDirectory!), ClusterToken.Resolve(tokenFile)!, cancellationToken).ConfigureAwait(false);
                    }
                    catch (StartupException ex)
                    {
                        return Fail($"the keys are restored but the data directory's secrets were not published to {ClusterSecrets.Prefix}: {ex.Message}");
                    }

                    Console.Out.WriteLine($"Published the data directory's CA, signing keys, checkpoint keys and admin credential to {ClusterSecrets.Prefix}, sealed under the cluster token.");
                }
            }

            var revision = await store.GetRevisionAsync(cancellationToken).ConfigureAwait(false);
            Console.Out.WriteLine(
                $"holdfast restore: restored {header.KeyCount} keys of a {header.Source} snapshot (source revision {header.Revision}, taken {header.CreatedAt:u}) into {(etcd ? storeText : Path.GetFullPath(storeText))}, now at revision {revision}.");
            if (header.FileCount > 0)
            {
                Console.Out.WriteLine(dataDirectory is null
                    ? $"The snapshot also holds {header.FileCount} data-directory files (keys, certificates, admin credential); pass --data-dir to restore them."
                    : $"Wrote {header.FileCount} data-directory files to {dataDirectory}.");
            }

            return 0;
        }
        finally
        {
            if (!restored && createdFile is not null)
            {
                foreach (var leftover in new[] { createdFile, createdFile + "-wal", createdFile + "-shm" })
                {
                    File.Delete(leftover);
                }
            }
        }
    }

    private static DataDirectoryLock LockNewDataDirectory(string dataDirectory) =>
        DataDirectoryLock.TryAcquire(dataDirectory)
        ?? throw new IOException($"A server is running on '{dataDirectory}'; restore into a new data directory.");

    private static int Refuse(string message)
    {
        Console.Error.WriteLine("holdfast restore: refused: " + message);
        return Refused;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("holdfast restore: " + message);
        return 2;
    }
}
