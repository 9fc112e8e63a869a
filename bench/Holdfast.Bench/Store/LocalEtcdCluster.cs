using Holdfast.Testing;

namespace Holdfast.Bench.Store;

/// <summary>
/// <c>--store etcd</c>: a fresh 3-member etcd cluster on loopback (the test suite's <see cref="EtcdProcess"/>: fsync on,
/// free ports, killed with this tool at the latest) in a temporary folder deleted on dispose.
/// </summary>
internal sealed class LocalEtcdCluster : IAsyncDisposable
{
    private readonly string _directory;
    private readonly IReadOnlyList<EtcdProcess> _members;

    private LocalEtcdCluster(string directory, IReadOnlyList<EtcdProcess> members)
    {
        _directory = directory;
        _members = members;
    }

    /// <summary>The <c>--store</c> value for the server, first member first.</summary>
    public string Store => "etcd://" + string.Join(',', _members.Select(m => $"127.0.0.1:{m.ClientPort}"));

    public Uri FirstEndpoint => _members[0].ClientUrl;

    /// <summary>The cluster token the server seals shared secrets with (one per run).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ServerEnvironment { get; } =
        [new("HOLDFAST_CLUSTER_TOKEN", "bench-" + Guid.NewGuid().ToString("N"))];

    public static async Task<LocalEtcdCluster> StartAsync(CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("holdfast-bench-etcd-").FullName;
        try
        {
            var members = await EtcdProcess.StartClusterAsync(directory, 3).WaitAsync(cancellationToken).ConfigureAwait(false);
            return new LocalEtcdCluster(directory, members);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            Directory.Delete(directory, recursive: true);
            throw new SetupException("Starting a local 3-member etcd cluster failed (is /usr/bin/etcd installed?): " + ex.Message, ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in _members)
        {
            await member.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}
