namespace Holdfast.State.Etcd.Client;

/// <summary>etcd answered with an error (or not at all); <see cref="Code"/> is the gRPC status code etcd sent, 0 when none.</summary>
internal sealed class EtcdRequestException(string message, int code, bool isTransient, Exception? innerException = null)
    : StateStoreException(message, isTransient, innerException)
{
    public const int InvalidArgument = 3;
    public const int NotFound = 5;
    public const int OutOfRange = 11;

    public int Code { get; } = code;

    /// <summary>
    /// Maps etcd's gRPC codes: timeouts, a missing leader, overload and unavailability may pass; bad requests, a missing
    /// lease and a compacted or future revision do not.
    /// </summary>
    public static EtcdRequestException FromStatus(int code, string? message)
    {
        string text = $"etcd: {message ?? "error"} (code {code})";
        if (message?.Contains("too many operations in txn request", StringComparison.Ordinal) == true)
        {
            text += "; Holdfast needs etcd started with --max-txn-ops=1024 or more (docs/designs/0006-etcd-store.md)";
        }

        return new EtcdRequestException(text, code, code is 1 or 2 or 4 or 8 or 10 or 14);
    }
}
