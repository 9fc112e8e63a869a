using System.Text;

namespace Holdfast.Agent;

/// <summary>Writes the agent's state files atomically (temp file, fsync, rename); private ones are 0600 from the moment they exist.</summary>
internal static class AgentFiles
{
    public static void WriteAtomic(string path, string content, bool isPrivate) => WriteAtomic(path, Encoding.UTF8.GetBytes(content), isPrivate);

    public static void WriteAtomic(string path, byte[] content, bool isPrivate)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Options = FileOptions.WriteThrough,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = isPrivate ? UnixFileMode.UserRead | UnixFileMode.UserWrite : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        }

        using (var stream = new FileStream(temp, options))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }
}
