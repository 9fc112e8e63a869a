namespace Holdfast.Testing;

/// <summary>A fresh, uniquely named folder under the system temp folder, deleted with its contents on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "holdfast-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open (e.g. by a leaked store) must not fail the test that owns this folder;
            // the folder lives under the temp folder, which the OS cleans.
        }
        catch (UnauthorizedAccessException)
        {
            // Same reasoning as above, for files a test made read-only.
        }
    }
}
