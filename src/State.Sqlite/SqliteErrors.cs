using Microsoft.Data.Sqlite;

namespace Holdfast.State.Sqlite;

/// <summary>Maps SQLite failures onto <see cref="StateStoreException"/>, deciding <see cref="StateStoreException.IsTransient"/>.</summary>
internal static class SqliteErrors
{
    // Primary result codes (https://sqlite.org/rescode.html) after which a retry may succeed.
    private const int Busy = 5;
    private const int Locked = 6;
    private const int NoMemory = 7;
    private const int Interrupt = 9;
    private const int IOError = 10;
    private const int Full = 13;
    private const int Protocol = 15;

    public static bool IsTransient(SqliteException exception) =>
        (exception.SqliteErrorCode & 0xFF) is Busy or Locked or NoMemory or Interrupt or IOError or Full or Protocol;

    public static StateStoreException Translate(Exception exception, string action) => exception switch
    {
        StateStoreException known => known,
        SqliteException sqlite => new StateStoreException(
            $"{action} failed: {sqlite.Message} (SQLite error {sqlite.SqliteExtendedErrorCode}).", IsTransient(sqlite), sqlite),
        _ => new StateStoreException($"{action} failed: {exception.Message}", isTransient: false, exception),
    };

    public static StateStoreException LeaseNotFound(long leaseId) =>
        new($"Lease {leaseId} does not exist: it expired, was revoked or was never granted.", isTransient: false);
}
