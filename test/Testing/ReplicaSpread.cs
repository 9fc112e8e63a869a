using System.Net;
using System.Net.Sockets;

namespace Holdfast.Testing;

/// <summary>
/// A <see cref="SocketsHttpHandler.ConnectCallback"/> that spreads new connections over replicas on loopback ports:
/// each connection starts at the next port in turn and moves on past a replica that refuses (one that is down).
/// </summary>
public static class ReplicaSpread
{
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> Connector(IReadOnlyList<int> ports)
    {
        ArgumentOutOfRangeException.ThrowIfZero(ports.Count);
        int next = 0;
        return async (_, cancellationToken) =>
        {
            int first = Interlocked.Increment(ref next);
            for (int i = 0; ; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, ports[(first + i) % ports.Count]), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch (SocketException exception) when (exception.SocketErrorCode == SocketError.ConnectionRefused && i < ports.Count - 1)
                {
                    socket.Dispose();
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }
        };
    }
}
