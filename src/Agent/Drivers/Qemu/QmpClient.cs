using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Holdfast.Agent.Drivers.Qemu;

/// <summary>
/// A QEMU Machine Protocol client: JSON lines over the VM's unix socket. Connecting reads the greeting and negotiates
/// capabilities (<c>qmp_capabilities</c>); each <see cref="ExecuteAsync"/> sends one command and reads until its
/// <c>return</c> or <c>error</c>, keeping the asynchronous events (<c>SHUTDOWN</c>, <c>POWERDOWN</c>, <c>RESET</c> …)
/// that arrive meanwhile in <see cref="Events"/>. QEMU serves one client at a time per socket, so connections are short.
/// </summary>
internal sealed class QmpClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly StreamReader _reader;
    private readonly Stream _stream;
    private readonly List<JsonObject> _events = [];

    private QmpClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = new StreamReader(_stream, Encoding.UTF8);
    }

    /// <summary>The events received so far (each with <c>event</c>, <c>data</c>, <c>timestamp</c>).</summary>
    public IReadOnlyList<JsonObject> Events => _events;

    /// <summary>Connects to <paramref name="socketPath"/>, reads the greeting and leaves capabilities negotiation mode.</summary>
    public static async Task<QmpClient> ConnectAsync(string socketPath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), deadline.Token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var client = new QmpClient(socket);
        try
        {
            var greeting = await client.ReadAsync(deadline.Token).ConfigureAwait(false);
            if (greeting["QMP"] is null)
            {
                throw new QmpException($"The QMP socket '{socketPath}' did not greet with QMP.");
            }

            await client.ExecuteAsync("qmp_capabilities", null, deadline.Token).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs one command and returns its <c>return</c> value; a QMP <c>error</c> throws <see cref="QmpException"/>.</summary>
    public async Task<JsonNode?> ExecuteAsync(string command, JsonObject? arguments, CancellationToken cancellationToken)
    {
        var request = new JsonObject { ["execute"] = command };
        if (arguments is not null)
        {
            request["arguments"] = arguments;
        }

        var bytes = Encoding.UTF8.GetBytes(request.ToJsonString() + "\n");
        await _stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var message = await ReadAsync(cancellationToken).ConfigureAwait(false);
            if (message["event"] is not null)
            {
                _events.Add(message);
                continue;
            }

            if (message["error"] is JsonObject error)
            {
                throw new QmpException($"QMP '{command}' failed: {error["class"]}: {error["desc"]}");
            }

            if (message.ContainsKey("return"))
            {
                return message["return"];
            }
        }
    }

    /// <summary>The VM's run state as <c>query-status</c> names it (running, paused, shutdown, prelaunch …).</summary>
    public async Task<string> QueryStatusAsync(CancellationToken cancellationToken)
    {
        var result = await ExecuteAsync("query-status", null, cancellationToken).ConfigureAwait(false);
        return result?["status"]?.GetValue<string>() ?? "unknown";
    }

    /// <summary>Waits for an event named <paramref name="name"/> (or returns it if it already arrived); false when the connection ended first.</summary>
    public async Task<bool> WaitForEventAsync(string name, CancellationToken cancellationToken)
    {
        if (_events.Any(e => e["event"]?.GetValue<string>() == name))
        {
            return true;
        }

        while (true)
        {
            JsonObject message;
            try
            {
                message = await ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (QmpException)
            {
                return false;
            }

            if (message["event"] is not null)
            {
                _events.Add(message);
                if (message["event"]!.GetValue<string>() == name)
                {
                    return true;
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }

    private async Task<JsonObject> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var line = await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new QmpException("QEMU closed the QMP connection.");
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                return JsonNode.Parse(line) as JsonObject ?? throw new QmpException("QEMU sent a QMP message that is not an object.");
            }
            catch (JsonException ex)
            {
                throw new QmpException("QEMU sent malformed QMP: " + ex.Message, ex);
            }
        }
    }
}

/// <summary>QMP failed: the socket closed, a command returned an error, or a message was malformed.</summary>
internal sealed class QmpException : Exception
{
    public QmpException()
    {
    }

    public QmpException(string message)
        : base(message)
    {
    }

    public QmpException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
