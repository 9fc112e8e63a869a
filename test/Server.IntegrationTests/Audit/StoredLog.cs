using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Holdfast.Server.IntegrationTests.Audit;

/// <summary>
/// An insider with disk access: edits the activity log in a stopped server's SQLite file directly, below the store
/// and the server, as anyone able to open the file could.
/// </summary>
internal sealed class StoredLog(string dataDirectory) : IDisposable
{
    private readonly SqliteConnection _connection = Open(dataDirectory);

    public static string EntryKey(long sequence) => "/audit/entries/" + sequence.ToString("D16", CultureInfo.InvariantCulture);

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
