using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;

namespace Holdfast.Server.IntegrationTests.Audit;

/// <summary>
/// An insider with disk access: edits the activity log in a stopped server's SQLite file directly, below the store
/// and the server, as anyone able to open the file could. Entries are stored in blocks (<c>/audit/blocks/</c>), or
/// singly (<c>/audit/entries/</c>) while the server has not yet read the cluster's schema levels (its first second);
/// the entry-level edits find an entry wherever it is, change it and put its record back.
/// </summary>
internal sealed class StoredLog(string dataDirectory) : IDisposable
{
    private const string BlocksPrefix = "/audit/blocks/";
    private const string EntriesPrefix = "/audit/entries/";
    private readonly SqliteConnection _connection = Open(dataDirectory);

    /// <summary>The key of the stored record (block or single entry) that holds entry <paramref name="sequence"/>.</summary>
    public string RecordKeyOf(long sequence) =>
        RecordKeys().FirstOrDefault(key => EntriesOf(key).Any(e => Sequence(e) == sequence))
        ?? throw new InvalidOperationException($"No stored record holds entry {sequence}");

    /// <summary>Entry <paramref name="sequence"/>'s stored JSON, out of its record.</summary>
    public string ReadEntry(long sequence) => EntriesOf(RecordKeyOf(sequence))[IndexOf(sequence)]!.ToJsonString();

    /// <summary>Replaces entry <paramref name="sequence"/> with <paramref name="json"/>, in place.</summary>
    public void WriteEntry(long sequence, string json) => SetAt(RecordKeyOf(sequence), IndexOf(sequence), json);

    /// <summary>Removes entry <paramref name="sequence"/>, and its record when nothing is left in it.</summary>
    public void DeleteEntry(long sequence)
    {
        var key = RecordKeyOf(sequence);
        var entries = EntriesOf(key);
        if (entries.Count == 1)
        {
            Delete(key);
            return;
        }

        entries.RemoveAt(IndexOf(sequence));
        Save(key, entries);
    }

    /// <summary>Swaps two entries' stored places (each entry moves whole, hash and all).</summary>
    public void SwapEntries(long first, long second)
    {
        var (firstJson, secondJson) = (ReadEntry(first), ReadEntry(second));
        var (firstKey, firstIndex) = (RecordKeyOf(first), IndexOf(first));
        var (secondKey, secondIndex) = (RecordKeyOf(second), IndexOf(second));
        SetAt(firstKey, firstIndex, secondJson);
        SetAt(secondKey, secondIndex, firstJson);
    }

    /// <summary>Puts <paramref name="json"/> right after entry <paramref name="sequence"/>: into its block, or under a key sorting after its own.</summary>
    public void InsertAfter(long sequence, string json)
    {
        var key = RecordKeyOf(sequence);
        if (key.StartsWith(EntriesPrefix, StringComparison.Ordinal))
        {
            Write(key + "a", json);
            return;
        }

        var entries = EntriesOf(key);
        entries.Insert(IndexOf(sequence) + 1, JsonNode.Parse(json));
        Save(key, entries);
    }

    /// <summary>Every stored entry's sequence, in stored order.</summary>
    public IReadOnlyList<long> Sequences() => [.. RecordKeys().SelectMany(EntriesOf).Select(Sequence)];

    /// <summary>Single entries and blocks, in sequence order (as the server merges them).</summary>
    private List<string> RecordKeys() =>
        [.. Keys(EntriesPrefix).Concat(Keys(BlocksPrefix)).OrderBy(key => EntriesOf(key).Select(Sequence).DefaultIfEmpty(long.MaxValue).First())];

    private int IndexOf(long sequence) => EntriesOf(RecordKeyOf(sequence)).Select(Sequence).ToList().IndexOf(sequence);

    private void SetAt(string key, int index, string json)
    {
        var entries = EntriesOf(key);
        entries[index] = JsonNode.Parse(json);
        Save(key, entries);
    }

    private JsonArray EntriesOf(string key) => key.StartsWith(EntriesPrefix, StringComparison.Ordinal)
        ? [JsonNode.Parse(Read(key))]
        : JsonNode.Parse(Read(key))!["entries"]!.AsArray();

    private void Save(string key, JsonArray entries)
    {
        if (key.StartsWith(EntriesPrefix, StringComparison.Ordinal))
        {
            Write(key, Assert.Single(entries)!.ToJsonString());
            return;
        }

        Write(key, new JsonObject { ["entries"] = entries.DeepClone() }.ToJsonString());
    }

    private static long Sequence(JsonNode? entry) => entry!["sequence"]!.GetValue<long>();

    public string Read(string key)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT value FROM kv WHERE key = $key";
        command.Parameters.AddWithValue("$key", key);
        return command.ExecuteScalar() is byte[] bytes ? System.Text.Encoding.UTF8.GetString(bytes) : throw new InvalidOperationException("No stored key " + key);
    }

    public void Write(string key, string value)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "INSERT INTO kv (key, value, create_rev, mod_rev, version, lease) VALUES ($key, $value, 1, 1, 1, 0) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
        command.Parameters.AddWithValue("$key", key);
        command.Parameters.AddWithValue("$value", System.Text.Encoding.UTF8.GetBytes(value));
        command.ExecuteNonQuery();
    }

    public void Delete(string key)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "DELETE FROM kv WHERE key = $key";
        command.Parameters.AddWithValue("$key", key);
        Assert.Equal(1, command.ExecuteNonQuery());
    }

    public IReadOnlyList<string> Keys(string prefix)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT key FROM kv WHERE substr(key, 1, length($prefix)) = $prefix ORDER BY key";
        command.Parameters.AddWithValue("$prefix", prefix);
        using var reader = command.ExecuteReader();
        var keys = new List<string>();
        while (reader.Read())
        {
            keys.Add(reader.GetString(0));
        }

        return keys;
    }

    public void Dispose() => _connection.Dispose();

    private static SqliteConnection Open(string dataDirectory)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(dataDirectory, "state.db"), Pooling = false }.ConnectionString);
        connection.Open();
        return connection;
    }
}
