namespace Holdfast.State.Etcd.Client;

/// <summary>How both etcd clients (gRPC and the JSON gateway) classify and explain a failed request.</summary>
internal static class EtcdFailures
{
    /// <summary>A failure of the connection or a per-attempt timeout, as opposed to the caller cancelling.</summary>
    public static bool IsTransport(Exception exception, CancellationToken cancellationToken) =>
        exception is HttpRequestException or IOException
        || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    /// <summary>Why the last attempt failed, spelled out for TLS, where the cause is usually a certificate.</summary>
    public static string Detail(Exception? last)
    {
        if (last is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError } || IsTlsFailure(last))
        {
            var reason = Innermost(last!) is ObjectDisposedException
                ? "etcd closed the connection during or right after the handshake, as it does for a missing or refused client certificate"
                : Innermost(last!).Message;
            return $" The TLS handshake failed ({reason}): etcd's certificate must chain to --etcd-ca-file and name the host dialled, and etcd must accept --etcd-cert-file.";
        }

        return last is null ? string.Empty : $" Last error: {Innermost(last).Message}";
    }

    /// <summary>
    /// With TLS 1.3 etcd rejects a client certificate after the handshake: the refusal surfaces on the first read, as
    /// an IOException over the TLS library's error, or (HTTP/2) as an unfinished HTTP/2 handshake over a TLS stream
    /// that the TLS library has already torn down.
    /// </summary>
    private static bool IsTlsFailure(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is System.Security.Authentication.AuthenticationException or System.Security.Cryptography.CryptographicException
                || exception is ObjectDisposedException { ObjectName: "System.Net.Security.SslStream" })
            {
                return true;
            }
        }

        return false;
    }

    private static Exception Innermost(Exception exception)
    {
        while (exception.InnerException is { } inner)
        {
            exception = inner;
        }

        return exception;
    }
}
