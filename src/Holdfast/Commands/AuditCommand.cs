using System.CommandLine;
using System.Security.Cryptography;
using Holdfast.Audit.Export;
using Holdfast.Audit.Verification;
using Holdfast.Server.Audit;
using Holdfast.Server.Bootstrap;
using Holdfast.State;
using Holdfast.State.Sqlite;

namespace Holdfast.Commands;

/// <summary>
/// <c>holdfast audit verify</c> and <c>holdfast audit export</c>: the activity log checked offline, on a stopped
/// server's data directory or on an exported file, and exported as a signed file to carry off-site. Exit codes:
/// 0 intact, 1 the log or file is damaged (the first problem is named), 2 the command could not run.
/// </summary>
internal static class AuditCommand
{
    private const int Intact = 0;
    private const int Damaged = 1;

    public static Command Create()
    {
        var command = new Command("audit", "Verify or export the tamper-evident activity log.");
        command.Subcommands.Add(Verify());
        command.Subcommands.Add(Export());
        return command;
    }

    private static Command Verify()
    {
        var dataDir = new Option<string?>("--data-dir") { Description = "A stopped server's data directory to verify." };
        var file = new Option<string?>("--file") { Description = "An export (holdfast audit export) to verify." };
        var publicKey = new Option<string?>("--public-key") { Description = "The site's activity-log public key (PEM) to pin, obtained out of band." };
        var command = new Command("verify", "Verify the activity log: exit 0 when intact, otherwise name the first edited, removed, inserted or reordered entry and exit 1.") { dataDir, file, publicKey };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var dir = parse.GetValue(dataDir);
            var path = parse.GetValue(file);
            if ((dir is null) == (path is null))
            {
                return Fail("give exactly one of --data-dir and --file.");
            }

            using var pinned = parse.GetValue(publicKey) is { } keyPath ? LoadPublicKey(keyPath) : null;
            if (parse.GetValue(publicKey) is not null && pinned is null)
            {
                return Fail($"--public-key '{parse.GetValue(publicKey)}' is not a readable PEM public key.");
            }

            try
            {
                return dir is not null
                    ? await VerifyDataDirectoryAsync(dir, pinned, cancellationToken).ConfigureAwait(false)
                    : await VerifyFileAsync(path!, pinned, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is StartupException or StateStoreException or IOException or UnauthorizedAccessException)
            {
                return Fail(ex.Message);
            }
        });
        return command;
    }

    private static Command Export()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "A stopped server's data directory.", Required = true };
        var output = new Option<string>("--out") { Description = "The export file to write (its public key is written next to it as FILE.pub.pem).", Required = true };
        var command = new Command("export", "Write the activity log as a signed file for carrying off-site.") { dataDir, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                return await ExportAsync(parse.GetValue(dataDir)!, parse.GetValue(output)!, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is StartupException or StateStoreException or IOException or UnauthorizedAccessException)
            {
                return Fail(ex.Message);
            }
        });
        return command;
    }

    private static async Task<int> VerifyDataDirectoryAsync(string dataDirectory, ECDsa? pinned, CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(dataDirectory);
        using var keys = AuditSigningKeys.Load(root, withSigner: false);
        await using var opened = await OpenStoppedAsync(root, cancellationToken).ConfigureAwait(false);
        AuditExportContent content;
        try
        {
            content = await AuditLog.ReadAsync(opened.Store, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException ex)
        {
            return Report("FAILED (Edited): " + ex.Message);
        }

        var pending = (await opened.Store.RangeAsync(new RangeRequest(AuditKeys.PendingPrefix, 0), cancellationToken).ConfigureAwait(false)).Items.Count;
        var result = Print(Verify(content, KeyResolver(keys.Find, pinned)), pinned is not null);
        if (pending > 0)
        {
            Console.Out.WriteLine($"{pending} record(s) are pending and not yet chained; the server chains them when it next starts.");
        }

        return result;
    }

    private static async Task<int> VerifyFileAsync(string path, ECDsa? pinned, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(path);
        var read = await AuditExport.ReadAsync(stream, pinned, cancellationToken).ConfigureAwait(false);
        if (!read.IsValid)
        {
            return Report($"FAILED ({read.Problem}): {read.Message}");
        }

        return Print(StartsWithoutAnchor(read.Content!) ?? read.VerifyLog(), read.IsSignerPinned);
    }

    private static AuditVerification Verify(AuditExportContent content, Func<string, ECDsa?> publicKeyById) =>
        StartsWithoutAnchor(content) ?? AuditVerifier.Verify(content.Entries, content.Checkpoints, publicKeyById, content.Anchor);

    /// <summary>
    /// Holdfast truncates only through retention, which stores its anchor before deleting anything: a log that starts
    /// after entry 1 with no anchor was cut, even where a checkpoint happens to sit just before its first entry (which
    /// the library, verifying logs of any origin, would accept as the start).
    /// </summary>
    private static AuditVerification? StartsWithoutAnchor(AuditExportContent content)
    {
        if (content.Anchor is not null || content.Entries.Count == 0 || content.Entries.Min(e => e.Sequence) <= 1)
        {
            return null;
        }

        var first = content.Entries.Min(e => e.Sequence);
        return new AuditVerification
        {
            Problem = AuditProblem.TruncatedWithoutCheckpoint,
            FirstBadSequence = 1,
            Message = $"The log starts at entry {first} and holds no retention anchor: entries 1 to {first - 1} were removed outside retention.",
        };
    }

    private static async Task<int> ExportAsync(string dataDirectory, string output, CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(dataDirectory);
        using var keys = AuditSigningKeys.Load(root, withSigner: true);
        await using var opened = await OpenStoppedAsync(root, cancellationToken).ConfigureAwait(false);
        var content = await AuditLog.ReadAsync(opened.Store, cancellationToken).ConfigureAwait(false);
        var target = Path.GetFullPath(output);
        var temp = target + ".tmp";
        await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            await AuditExport.WriteAsync(stream, content, keys.ActiveKeyId, keys.Signer!, keys.Find, TimeProvider.System.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, target, overwrite: true);
        var publicKeyPath = target + ".pub.pem";
        File.Copy(AuditSigningKeys.PublicKeyPath(root, keys.ActiveKeyId), publicKeyPath, overwrite: true);
        Console.Out.WriteLine($"Exported {content.Entries.Count} entries and {content.Checkpoints.Count} checkpoints to {target}, signed with activity-log key {keys.ActiveKeyId}.");
        Console.Out.WriteLine($"Public key: {publicKeyPath}. Verify it matches the site's key by another channel, then: holdfast audit verify --file {target} --public-key <site key>.");
        return Intact;
    }

    /// <summary>Opens the store of a data directory no server is using; refuses clearly when one is.</summary>
    private static async Task<OpenedStore> OpenStoppedAsync(string root, CancellationToken cancellationToken)
    {
        var statePath = Path.Combine(root, "state.db");
        if (!File.Exists(statePath))
        {
            throw new StartupException($"'{root}' holds no store (no state.db).");
        }

        var dataLock = DataDirectoryLock.TryAcquire(root)
            ?? throw new StartupException($"A server is running on '{root}'. Stop it first: the activity log is verified and exported from a stopped server's data.");
        try
        {
            var store = await SqliteStateStore.OpenAsync(statePath, new SqliteStateStoreOptions(), TimeProvider.System, cancellationToken).ConfigureAwait(false);
            return new OpenedStore(store, dataLock);
        }
        catch
        {
            dataLock.Dispose();
            throw;
        }
    }

    private static Func<string, ECDsa?> KeyResolver(Func<string, ECDsa?> local, ECDsa? pinned)
    {
        if (pinned is null)
        {
            return local;
        }

        var pinnedId = AuditSigningKeys.KeyIdOf(pinned);
        return keyId => keyId == pinnedId ? pinned : null;
    }

    private static int Print(AuditVerification verification, bool pinned)
    {
        if (!verification.IsIntact)
        {
            return Report($"FAILED ({verification.Problem}) at entry {verification.FirstBadSequence}: {verification.Message}");
        }

        var signed = verification.LastCheckpointSequence is { } checkpoint ? $"signed up to entry {checkpoint}" : "no signed checkpoint yet";
        Console.Out.WriteLine($"OK: the activity log is intact (last entry {verification.LastVerifiedSequence?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}; {signed}).");
        if (verification.LastCheckpointSequence != verification.LastVerifiedSequence)
        {
            Console.Out.WriteLine("Entries after the last checkpoint chain correctly but are not yet covered by a signature.");
        }

        if (!pinned)
        {
            Console.Out.WriteLine("The signing key was not pinned: pass --public-key with the site's key to rule out a re-signed copy.");
        }

        return Intact;
    }

    private static ECDsa? LoadPublicKey(string path)
    {
        try
        {
            var key = ECDsa.Create();
            key.ImportFromPem(File.ReadAllText(path));
            return key;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or CryptographicException)
        {
            return null;
        }
    }

    private static int Report(string message)
    {
        Console.Out.WriteLine(message);
        return Damaged;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("holdfast audit: " + message);
        return 2;
    }

    private sealed class OpenedStore(IStateStore store, DataDirectoryLock dataLock) : IAsyncDisposable
    {
        public IStateStore Store => store;

        public async ValueTask DisposeAsync()
        {
            await store.DisposeAsync().ConfigureAwait(false);
            dataLock.Dispose();
        }
    }
}
