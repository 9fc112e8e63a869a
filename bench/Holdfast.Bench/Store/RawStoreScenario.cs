using System.Globalization;
using Holdfast.Bench.Load;
using Holdfast.State.Sqlite;

namespace Holdfast.Bench.Store;

/// <summary>
/// The raw durable-write rate the server's PUTs are compared with: a fresh <see cref="SqliteStateStore"/> (default
/// options, as <c>holdfast serve</c> opens it) on its own temporary file, written in-process by N workers, each cycling
/// through its own keys with unconditional puts of a fixed random value the size of a resource-group document.
/// </summary>
internal sealed class RawStoreScenario : IAsyncDisposable
{
    private readonly SqliteStateStore _store;
    private readonly string _directory;

    private RawStoreScenario(SqliteStateStore store, string directory)
    {
        _store = store;
        _directory = directory;
    }

    public static async Task<RawStoreScenario> OpenAsync(CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("holdfast-bench-store-").FullName;
        try
        {
            var store = await SqliteStateStore.OpenAsync(Path.Combine(directory, "state.db"), new SqliteStateStoreOptions(), TimeProvider.System, cancellationToken)
                .ConfigureAwait(false);
            return new RawStoreScenario(store, directory);
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    public Operation Put(int concurrency, int keysPerWorker, int valueBytes)
    {
        var keys = new string[concurrency][];
        var values = new byte[concurrency][];
        for (var worker = 0; worker < concurrency; worker++)
        {
            keys[worker] = new string[keysPerWorker];
            for (var key = 0; key < keysPerWorker; key++)
            {
                keys[worker][key] = string.Create(CultureInfo.InvariantCulture, $"/bench/raw/{worker:D3}/{key:D3}");
            }

            values[worker] = new byte[valueBytes];
            Random.Shared.NextBytes(values[worker]);
        }

        return async (worker, iteration, cancellationToken) =>
        {
            var result = await _store.PutAsync(keys[worker][iteration % keysPerWorker], values[worker], expectedModRevision: null, cancellationToken)
                .ConfigureAwait(false);
            return result.Succeeded ? null : "PutAsync did not succeed";
        };
    }

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"bench: could not delete '{_directory}': {ex.Message}").ConfigureAwait(false);
        }
    }
}
