using System.Security.Cryptography.X509Certificates;
using Holdfast.Fabric.Protocol;

namespace Holdfast.Agent.Transport;

/// <summary>
/// How an agent reaches the server's agent port: HTTPS with mutual TLS (<see cref="HttpsAgentTransport"/>) across the
/// process boundary; tests substitute a fake. Failures to reach the server throw <see cref="AgentTransportException"/>.
/// </summary>
public interface IAgentTransport : IDisposable
{
    Task<JoinResponse> JoinAsync(JoinRequest request, CancellationToken cancellationToken);

    Task<SyncResponse> SyncAsync(SyncRequest request, CancellationToken cancellationToken);

    /// <summary>Renews the client certificate, authenticated with the one presented now (mTLS).</summary>
    Task<RenewResponse> RenewAsync(RenewRequest request, CancellationToken cancellationToken);

    /// <summary>Presents <paramref name="certificate"/> (with its private key) as the client certificate from now on.</summary>
    void UseClientCertificate(X509Certificate2 certificate);
}

/// <summary>
/// The server could not be reached or refused the call. <see cref="StatusCode"/> is set when it answered (a refusal,
/// with the error envelope's <see cref="Code"/>); null when there was no answer (network, TLS, timeout).
/// </summary>
public sealed class AgentTransportException : Exception
{
    public AgentTransportException()
    {
    }

    public AgentTransportException(string message)
        : base(message)
    {
    }

    public AgentTransportException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public AgentTransportException(int statusCode, string? code, string message)
        : base(message)
    {
        StatusCode = statusCode;
        Code = code;
    }

    public int? StatusCode { get; }

    public string? Code { get; }

    /// <summary>True when the server answered with a 4xx: retrying the same request will not help.</summary>
    public bool IsRejection => StatusCode is >= 400 and < 500;
}
