using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;

namespace Holdfast.Server.IntegrationTests.Audit;

/// <summary>
/// An insider with disk access: edits the activity log in a stopped server's SQLite file directly, below the store
/// and the server, as anyone able to open the file could. Entries are stored in blocks (<c>/audit/blocks/</c>); the
/// entry-level edits take one entry out of its block, change it and put the block back.
/// </summary>
internal sealed class StoredLog(string dataDirectory) : IDisposable
{
    private readonly SqliteConnection _connection = Open(dataDirectory);

    public const string BlocksPrefix = "/audit/blocks/";

    /// <summary>The key of the stored block that holds entry <paramref name="sequence"/>.</summary>
    public string BlockKeyOf(long sequence) =>
        Keys(BlocksPrefix).FirstOrDefault(key => EntriesOf(key).Any(e => Sequence(e) == sequence))
        ?? throw new InvalidOperationException($"No stored block holds entry {sequence}");

    /// <summary>Entry <paramref name="sequence"/>'s stored JSON, out of its block.</summary>
    public string ReadEntry(long sequence) => EntriesOf(BlockKeyOf(sequence)).Single(e => Sequence(e) == sequence)!.ToJsonString();

    /// <summary>Replaces entry <paramref name="sequence"/> in its block with <paramref name="json"/>, in place.</summary>
    public void WriteEntry(long sequence, string json) => EditBlock(sequence, (entries, index) => entries[index] = JsonNode.Parse(json));

    /// <summary>Removes entry <paramref name="sequence"/> from its block, and the block when nothing is left in it.</summary>
    public void DeleteEntry(long sequence)
    {
        var key = BlockKeyOf(sequence);
        if (EntriesOf(key).Count == 1)
        {
            Delete(key);
            return;
        }

        EditBlock(sequence, (entries, index) => entries.RemoveAt(index));
    }

    /// <summary>Swaps two entries' stored places (each entry moves whole, hash and all).</summary>
    public void SwapEntries(long first, long second)
    {
        var (firstJson, secondJson) = (ReadEntry(first), ReadEntry(second));
        var (firstKey, firstIndex) = (BlockKeyOf(first), IndexOf(first));
        var (secondKey, secondIndex) = (BlockKeyOf(second), IndexOf(second));
        SetAt(firstKey, firstIndex, secondJson);
        SetAt(secondKey, secondIndex, firstJson);
    }

    /// <summary>Puts <paramref name="json"/> into entry <paramref name="sequence"/>'s block right after it.</summary>
    public void InsertAfter(long sequence, string json) => EditBlock(sequence, (entries, index) => entries.Insert(index + 1, JsonNode.Parse(json)));

    /// <summary>Every stored entry's sequence, in stored order.</summary>
    public IReadOnlyList<long> Sequences() => [.. Keys(BlocksPrefix).SelectMany(EntriesOf).Select(Sequence)];

    private void EditBlock(long sequence, Action<JsonArray, int> edit)
    {
        var key = BlockKeyOf(sequence);
        var block = JsonNode.Parse(Read(key))!.AsObject();
        var entries = block["entries"]!.AsArray();
        var index = entries.Select(Sequence).ToList().IndexOf(sequence);
        edit(entries, index);
        Write(key, block.ToJsonString());
    }

    private int IndexOf(long sequence) => EntriesOf(BlockKeyOf(sequence)).Select(Sequence).ToList().IndexOf(sequence);

    private void SetAt(string key, int index, string json)
    {
        var block = JsonNode.Parse(Read(key))!.AsObject();
        block["entries"]!.AsArray()[index] = JsonNode.Parse(json);
        Write(key, block.ToJsonString());
    }

    private JsonArray EntriesOf(string blockKey) => JsonNode.Parse(Read(blockKey))!["entries"]!.AsArray();

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
