using Holdfast.Server.Bootstrap;

namespace Holdfast.Server.Audit;

/// <summary>
/// An exclusive lock on <c>{data}/audit/serve.lock</c>, held by a running server for its lifetime, so offline tools
/// (<c>holdfast audit verify --data-dir</c>) can tell a stopped server's data from a live one. .NET takes an advisory
/// <c>flock</c> for <see cref="FileShare.None"/> on Unix; the kernel drops it when the process dies, even by kill -9.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    private readonly FileStream _stream;

    private DataDirectoryLock(FileStream stream)
    {
        _stream = stream;
    }

    /// <summary>Takes the lock, or null when another process holds it.</summary>
    public static DataDirectoryLock? TryAcquire(string dataDirectory)
    {
        var directory = AuditSigningKeys.DirectoryOf(dataDirectory);
        Directory.CreateDirectory(directory);
        try
        {
            return new DataDirectoryLock(new FileStream(Path.Combine(directory, "serve.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Takes the lock for a server, or a <see cref="StartupException"/> when another process holds it.</summary>
    public static DataDirectoryLock AcquireForServer(string dataDirectory) =>
        TryAcquire(dataDirectory) ?? throw new StartupException($"Another process is using the data directory '{dataDirectory}' (it holds audit/serve.lock).");

    public void Dispose() => _stream.Dispose();
}
