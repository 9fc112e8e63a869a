using System.CommandLine;
using Holdfast.State;
using Holdfast.State.Etcd;
using Holdfast.State.Snapshots;
using Holdfast.State.Sqlite;

namespace Holdfast.Commands.Backup;

/// <summary>
/// <c>holdfast backup</c>: one consistent snapshot (one store revision) of every key to one file, from the SQLite
/// store (a copy taken with SQLite's online backup, so a running server may keep writing) or from etcd (every page
/// read at one etcd revision). With <c>--data-dir</c> the data directory's secrets go in too. Format:
/// docs/operations.md. Exit codes: 0 written, 2 the command could not run.
/// </summary>
internal static class BackupCommand
{
    public static Command Create()
    {
        var store = new Option<string?>("--store") { Description = "The store to back up: a SQLite file (state.db) or etcd[s]://host:port[,host:port…] (default: DIR/state.db of --data-dir)." };
        var dataDir = new Option<string?>("--data-dir") { Description = "A data directory whose secrets (tls/, keys/, audit/, admin-credentials.json) go into the snapshot too." };
        var output = new Option<string>("--out") { Description = "The snapshot file to write (mode 0600; must not exist).", Required = true };
        var command = new Command("backup", "Write a consistent snapshot of the whole store (and a data directory's secrets) to one file.") { store, dataDir, output };
        var etcdTls = new EtcdTlsOptions();
        etcdTls.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var dir = parse.GetValue(dataDir);
            var storeText = parse.GetValue(store) ?? (dir is null ? null : Path.Combine(dir, "state.db"));
            if (storeText is null)
            {
                return Fail("give --store, --data-dir or both.");
            }

            try
            {
                var etcd = EtcdTlsOptions.IsEtcd(storeText) || etcdTls.AnyEtcdFlag(parse) ? etcdTls.Parse(parse, storeText) : null;
                return await RunAsync(storeText, etcd, dir, Path.GetFullPath(parse.GetValue(output)!), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is StateStoreException or IOException or UnauthorizedAccessException or FormatException or ArgumentException)
            {
                return Fail(ex.Message);
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(string storeText, EtcdStateStoreOptions? etcd, string? dataDirectory, string output, CancellationToken cancellationToken)
    {
        if (File.Exists(output))
        {
            return Fail($"'{output}' exists; a backup never overwrites a file.");
        }

        var files = dataDirectory is null ? [] : DataDirectoryFiles.Collect(dataDirectory);
        var temp = output + ".tmp";
        var copy = output + ".state-copy.db";
        try
        {
            SnapshotSummary summary;
            await using (var source = await OpenSourceAsync(storeText, etcd, copy, cancellationToken).ConfigureAwait(false))
            {
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
                if (!OperatingSystem.IsWindows())
                {
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }

                await using var stream = new FileStream(temp, options);
                summary = await StoreSnapshot.WriteAsync(source.Store, source.Kind, files, stream, TimeProvider.System.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, output);
            var header = summary.Header;
            Console.Out.WriteLine(
                $"holdfast backup: wrote {output} (mode 0600): {header.Source} store at revision {header.Revision}, {header.KeyCount} keys, {header.FileCount} data-directory files; {summary.SkippedKeys} lease-bound keys left out.");
            if (header.FileCount > 0)
            {
                Console.Out.WriteLine("The file holds the install's private keys and admin credential: keep it as secret as the data directory.");
            }

            return 0;
        }
        catch (RevisionCompactedException ex)
        {
            return Fail($"the store compacted revision it was being read at ({ex.Message}); run the backup again.");
        }
        finally
        {
            foreach (var leftover in new[] { temp, copy, copy + "-wal", copy + "-shm", copy + "-journal" })
            {
                File.Delete(leftover);
            }
        }
    }

    private static async Task<SourceStore> OpenSourceAsync(string storeText, EtcdStateStoreOptions? etcd, string copyPath, CancellationToken cancellationToken)
    {
        if (etcd is not null)
        {
            return new SourceStore(await EtcdStateStore.OpenAsync(etcd, cancellationToken).ConfigureAwait(false), "etcd");
        }

        // A running server keeps writing the file: read a consistent copy instead, which nothing else writes.
        SqliteStateStore.CopyConsistent(Path.GetFullPath(storeText), copyPath);
        var options = new SqliteStateStoreOptions { LeaseCheckInterval = TimeSpan.FromDays(1) };
        return new SourceStore(await SqliteStateStore.OpenAsync(copyPath, options, TimeProvider.System, cancellationToken).ConfigureAwait(false), "sqlite");
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("holdfast backup: " + message);
        return 2;
    }

    private sealed class SourceStore(IStateStore store, string kind) : IAsyncDisposable
    {
        public IStateStore Store => store;

        public string Kind => kind;

        public ValueTask DisposeAsync() => store.DisposeAsync();
    }
}
