using System.Text;
using System.Text.Json.Nodes;
using Holdfast.State.Snapshots;

namespace Holdfast.Commands.Backup;

/// <summary>
/// The data-directory files a snapshot carries for a single-node install: <c>tls/</c> (the CA and server
/// certificate with their private keys), <c>keys/</c> (token-signing keys), <c>audit/</c> (the activity log's
/// checkpoint keys) and <c>admin-credentials.json</c>. They are secrets; the snapshot file is written 0600. The store
/// file, its WAL, locks and temp files are not carried.
/// </summary>
internal static class DataDirectoryFiles
{
    private static readonly string[] Folders = ["tls", "keys", "audit"];

    public const string AdminCredentials = "admin-credentials.json";

    public static List<SnapshotFile> Collect(string dataDirectory)
    {
        var root = Path.GetFullPath(dataDirectory);
        var files = new List<SnapshotFile>();
        if (File.Exists(Path.Combine(root, AdminCredentials)))
        {
            files.Add(Read(root, AdminCredentials));
        }

        foreach (var folder in Folders)
        {
            var directory = Path.Combine(root, folder);
            if (!Directory.Exists(directory))
            {
                continue;
            }

            foreach (var path in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(path);
                if (name.EndsWith(".lock", StringComparison.Ordinal) || name.EndsWith(".tmp", StringComparison.Ordinal) || name.StartsWith('.'))
                {
                    continue;
                }

                files.Add(Read(root, Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/')));
            }
        }

        return files;
    }

    /// <summary>The snapshot's files that already exist under <paramref name="dataDirectory"/> (a restore never overwrites one).</summary>
    public static List<string> Existing(string dataDirectory, IEnumerable<string> relativePaths) =>
        relativePaths.Where(path => File.Exists(Target(dataDirectory, path))).ToList();

    /// <summary>
    /// Writes one restored file with its mode (private keys stay 0600). <c>admin-credentials.json</c> gets its
    /// <c>caCertificatePath</c> pointed at this data directory's CA, since the old path belongs to the old install.
    /// </summary>
    public static void Write(string dataDirectory, SnapshotFile file)
    {
        var target = Target(dataDirectory, file.Path);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var content = file.Content;
        if (file.Path == AdminCredentials && JsonNode.Parse(file.Content.Span) is JsonObject credentials)
        {
            credentials["caCertificatePath"] = Path.Combine(Path.GetFullPath(dataDirectory), "tls", "ca.pem");
            content = Encoding.UTF8.GetBytes(credentials.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        }

        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.WriteThrough };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = (UnixFileMode)(file.Mode & 0x1FF) | UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(target, options);
        stream.Write(content.Span);
        stream.Flush(flushToDisk: true);
    }

    private static string Target(string dataDirectory, string relativePath)
    {
        var root = Path.GetFullPath(dataDirectory);
        var target = Path.GetFullPath(Path.Combine(root, relativePath.Replace('/', Path.DirectorySeparatorChar)));
        return target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? target
            : throw new InvalidDataException($"The snapshot's file '{relativePath}' would land outside the data directory.");
    }

    private static SnapshotFile Read(string root, string relativePath)
    {
        var path = Path.Combine(root, relativePath.Replace('/', Path.DirectorySeparatorChar));
        int mode = OperatingSystem.IsWindows() ? 0x180 : (int)File.GetUnixFileMode(path);
        return new SnapshotFile(relativePath, mode, File.ReadAllBytes(path));
    }
}
