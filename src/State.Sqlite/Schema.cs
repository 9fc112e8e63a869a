using Microsoft.Data.Sqlite;

namespace Holdfast.State.Sqlite;

/// <summary>
/// The storage model, after kine's SQL emulation of etcd. <c>kv</c> holds the current value of every live key;
/// <c>log</c> holds one row per change (several rows share a revision when a transaction writes several keys), and is
/// what watches replay and compaction trims; <c>meta</c> holds the current revision, the compacted revision and the
/// last log id, so none of them goes backwards after a restart even when the newest rows are gone; <c>leases</c>
/// holds each lease's TTL and absolute expiry (Unix milliseconds on the store's <see cref="TimeProvider"/>).
/// Keys are TEXT under the BINARY collation, so they compare byte-wise as UTF-8 (see <see cref="KeyOrder"/>).
/// </summary>
internal static class Schema
{
    public const int Version = 1;

    public const string KvColumns = "key, value, create_rev, mod_rev, version, lease";

    /// <summary>A prefix range: <c>$from</c> is the prefix (or a later start), <c>$to</c> the <see cref="KeyOrder.PrefixEnd"/> bytes.</summary>
    public const string PrefixBounds = "key >= $from AND key < CAST($to AS TEXT)";

    public const int LogPut = 0;
    public const int LogDelete = 1;

    private const string CreateSql = """
        CREATE TABLE IF NOT EXISTS kv (
            key        TEXT    NOT NULL PRIMARY KEY,
            value      BLOB    NOT NULL,
            create_rev INTEGER NOT NULL,
            mod_rev    INTEGER NOT NULL,
            version    INTEGER NOT NULL,
            lease      INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS kv_lease ON kv (lease) WHERE lease <> 0;
        CREATE TABLE IF NOT EXISTS log (
            id         INTEGER NOT NULL PRIMARY KEY,
            rev        INTEGER NOT NULL,
            key        TEXT    NOT NULL,
            value      BLOB,
            type       INTEGER NOT NULL,
            create_rev INTEGER NOT NULL,
            version    INTEGER NOT NULL,
            lease      INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS log_rev ON log (rev);
        CREATE TABLE IF NOT EXISTS meta (
            name  TEXT    NOT NULL PRIMARY KEY,
            value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT OR IGNORE INTO meta (name, value) VALUES ('rev', 0), ('compact_rev', 0), ('log_id', 0);
        CREATE TABLE IF NOT EXISTS leases (
            id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
            ttl_ms        INTEGER NOT NULL,
            expires_at_ms INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS leases_expiry ON leases (expires_at_ms);
        PRAGMA user_version = 1;
        """;

    public static SqliteConnection Open(string path, bool writer, int busyTimeoutSeconds)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = writer ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            Cache = SqliteCacheMode.Private,
            // Connections are owned by the store (one writer, its own read pool); ADO.NET pooling would hide them.
            Pooling = false,
            DefaultTimeout = busyTimeoutSeconds,
        };
        var connection = new SqliteConnection(builder.ConnectionString);
        try
        {
            connection.Open();
            if (writer)
            {
                string mode = Convert.ToString(Scalar(connection, "PRAGMA journal_mode = WAL"), System.Globalization.CultureInfo.InvariantCulture) ?? "";
                if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                {
                    throw new StateStoreException($"SQLite refused WAL mode for '{path}' (journal mode is '{mode}').", isTransient: false);
                }

                // FULL: a commit returns only after the WAL is fsynced, so an acknowledged write survives power loss.
                // No automatic checkpoint: the store's Checkpointer copies the WAL back off the commit path.
                Execute(connection, "PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 0");
            }
            else
            {
                Execute(connection, "PRAGMA query_only = ON");
            }

            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public static void Create(SqliteConnection connection, string path)
    {
        long version = (long)Scalar(connection, "PRAGMA user_version")!;
        if (version > Version)
        {
            throw new StateStoreException(
                $"The state store at '{path}' has schema version {version}; this build understands up to {Version}. Use a newer Holdfast.",
                isTransient: false);
        }

        Execute(connection, "BEGIN IMMEDIATE;" + CreateSql + "COMMIT;");
    }

    public static SqliteCommand Prepare(SqliteConnection connection, string sql, params ReadOnlySpan<string> parameterNames)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (string name in parameterNames)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        command.Prepare();
        return command;
    }

    /// <summary>Reads a row selected as <see cref="KvColumns"/>.</summary>
    public static KeyValue ReadKv(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetFieldValue<byte[]>(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5));

    public static KeyValue? ReadOne(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadKv(reader) : null;
    }

    public static List<KeyValue> ReadAll(SqliteCommand command)
    {
        var items = new List<KeyValue>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            items.Add(ReadKv(reader));
        }

        return items;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
