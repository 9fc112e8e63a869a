using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;

namespace Holdfast.State.Etcd.Client;

/// <summary>
/// <see cref="IEtcdClient"/> over etcd's native gRPC API: HTTP/2 (cleartext with prior knowledge for <c>http</c>
/// endpoints, ALPN <c>h2</c> over TLS for <c>https</c>) on <see cref="HttpClient"/>, with gRPC's framing and status
/// trailers and protocol-buffers messages (<see cref="EtcdProto"/>). Calls to a member share its HTTP/2 connection
/// (another is opened only past the connection's stream limit).
/// Requests go to the current endpoint; a connection that cannot be made moves to the next one and retries there,
/// since nothing was sent. A request that was sent but not answered (timeout, reset) is retried elsewhere only when it
/// cannot change state; a write in that state has an unknown outcome and fails as transient.
/// </summary>
internal sealed class EtcdGrpcClient : IEtcdClient
{
    private const int FrameHeaderLength = 5;

    // etcd answers with whole messages; a range page or a watch response over this is not something Holdfast asks for.
    private const int MaxMessageBytes = 64 * 1024 * 1024;
    private static readonly MediaTypeHeaderValue GrpcContentType = new("application/grpc");
    private readonly EtcdStateStoreOptions _options;
    private readonly HttpClient _http;
    private int _current;

    public EtcdGrpcClient(EtcdStateStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException("At least one etcd endpoint is required.", nameof(options));
        }

        if (options.Endpoints.Any(e => e.Scheme == Uri.UriSchemeHttps) && options.Tls is null)
        {
            throw new ArgumentException("https etcd endpoints need EtcdStateStoreOptions.Tls.", nameof(options));
        }

        _options = options;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            UseProxy = false,
            EnableMultipleHttp2Connections = true,

            // A member that stops answering (hung, cut off) is noticed by HTTP/2 pings even on an idle watch. etcd
            // answers pings more frequent than its --grpc-keepalive-min-time (5 s by default) with GOAWAY, so stay
            // well above it; the timeout is generous so that a CPU-starved member is not cut off mid-write.
            KeepAlivePingDelay = TimeSpan.FromSeconds(15),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
        };
        options.Tls?.Apply(handler.SslOptions);

        // Streams (watches) carry their own deadlines; unary calls get RequestTimeout per attempt.
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The endpoint the next request goes to.</summary>
    public Uri CurrentEndpoint => _options.Endpoints[Volatile.Read(ref _current)];

    public async Task<EtcdRangeResponse> RangeAsync(EtcdRangeRequest request, CancellationToken cancellationToken) =>
        Decode(await CallAsync("etcdserverpb.KV/Range", Frame(request, EtcdProto.Range), retrySafe: true, cancellationToken).ConfigureAwait(false), EtcdProto.RangeResponse);

    public async Task<EtcdTxnResponse> TxnAsync(EtcdTxnRequest request, bool writes, CancellationToken cancellationToken) =>
        Decode(await CallAsync("etcdserverpb.KV/Txn", Frame(request, EtcdProto.Txn), retrySafe: !writes, cancellationToken).ConfigureAwait(false), EtcdProto.TxnResponse);

    // Compaction to a revision is idempotent: a repeat reports "already compacted", which the store treats as done.
    public async Task CompactAsync(EtcdCompactionRequest request, CancellationToken cancellationToken) =>
        Decode(await CallAsync("etcdserverpb.KV/Compact", Frame(request, EtcdProto.Compaction), retrySafe: true, cancellationToken).ConfigureAwait(false), EtcdProto.HeaderOnly);

    public async Task<EtcdLeaseResponse> LeaseGrantAsync(EtcdLeaseGrantRequest request, CancellationToken cancellationToken)
    {
        var (response, error) = Decode(await CallAsync("etcdserverpb.Lease/LeaseGrant", Frame(request, EtcdProto.LeaseGrant), retrySafe: false, cancellationToken).ConfigureAwait(false), EtcdProto.LeaseResponse);
        return error is null ? response : throw EtcdRequestException.FromStatus(2, error);
    }

    /// <summary>
    /// One request on the bidirectional keepalive stream, which the client then half-closes: etcd answers it and ends
    /// the stream. A lost lease comes back with a TTL of 0.
    /// </summary>
    public async Task<long> LeaseKeepAliveAsync(long leaseId, CancellationToken cancellationToken) =>
        Decode(await CallAsync("etcdserverpb.Lease/LeaseKeepAlive", Frame(leaseId, EtcdProto.LeaseId), retrySafe: true, cancellationToken).ConfigureAwait(false), EtcdProto.LeaseResponse).Response.Ttl;

    public async Task LeaseRevokeAsync(long leaseId, CancellationToken cancellationToken) =>
        Decode(await CallAsync("etcdserverpb.Lease/LeaseRevoke", Frame(leaseId, EtcdProto.LeaseId), retrySafe: false, cancellationToken).ConfigureAwait(false), EtcdProto.HeaderOnly);

    public async IAsyncEnumerable<EtcdWatchResponse> WatchAsync(EtcdWatchCreateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var frame = Frame(request, EtcdProto.WatchCreate);
        int index = Volatile.Read(ref _current);

        // The request side stays open for the stream's life (closing it would end the watch); cancelled on the way out.
        using var open = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var message = Request(index, "etcdserverpb.Watch/Watch", new OpenStreamContent(frame, open.Token));

        // clientv3's WithRequireLeader: etcd ends the watch when this member loses its leader, instead of leaving it
        // silently open on a member cut off from the cluster.
        message.Headers.Add("hasleader", "true");
        HttpResponseMessage response;
        using (var headersTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            headersTimeout.CancelAfter(_options.RequestTimeout);
            try
            {
                response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, headersTimeout.Token).ConfigureAwait(false);
            }
            catch (Exception exception) when (EtcdFailures.IsTransport(exception, cancellationToken))
            {
                MoveOn(index);
                throw Unreachable(index, exception);
            }
        }

        try
        {
            using (response)
            {
                if (StatusError(response, trailersOnly: true) is { } refused)
                {
                    MoveOn(index);
                    throw refused;
                }

                var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                List<EtcdEvent>? fragments = null;
                while (true)
                {
                    byte[]? payload;
                    try
                    {
                        payload = await ReadFrameAsync(stream, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception exception) when (EtcdFailures.IsTransport(exception, cancellationToken))
                    {
                        MoveOn(index);
                        throw Unreachable(index, exception);
                    }

                    if (payload is null)
                    {
                        if (StatusError(response, trailersOnly: false) is { } ended)
                        {
                            MoveOn(index);
                            throw ended;
                        }

                        throw new StateStoreException($"etcd at {_options.Endpoints[index]} ended the watch stream.", isTransient: true);
                    }

                    var part = Decode(payload, EtcdProto.WatchResponse);

                    // A response over etcd's request size limit comes in fragments (asked for in the create request):
                    // their events are one response, passed on only once whole, so a revision is never split.
                    if (part.Fragment)
                    {
                        (fragments ??= []).AddRange(part.Events ?? []);
                        continue;
                    }

                    if (fragments is not null)
                    {
                        fragments.AddRange(part.Events ?? []);
                        part = new EtcdWatchResponse { Header = part.Header, Created = part.Created, Canceled = part.Canceled, CompactRevision = part.CompactRevision, CancelReason = part.CancelReason, Events = fragments };
                        fragments = null;
                    }

                    yield return part;
                }
            }
        }
        finally
        {
            await open.CancelAsync().ConfigureAwait(false);
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>A message etcd sent that does not decode: transient (as any failure after sending), with the reason.</summary>
    private static T Decode<T>(byte[] payload, ProtoDecoder<T> decode)
    {
        try
        {
            return decode(payload);
        }
        catch (InvalidDataException exception)
        {
            throw new StateStoreException($"etcd sent a message Holdfast cannot read: {exception.Message}", isTransient: true, exception);
        }
    }

    private delegate T ProtoDecoder<out T>(ReadOnlySpan<byte> data);

    private static byte[] Frame<T>(T value, Action<ProtoWriter, T> write)
    {
        var writer = new ProtoWriter();
        write(writer, value);
        var message = writer.WrittenSpan;
        var frame = new byte[FrameHeaderLength + message.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), message.Length);
        message.CopyTo(frame.AsSpan(FrameHeaderLength));
        return frame;
    }

    private HttpRequestMessage Request(int index, string path, HttpContent content)
    {
        content.Headers.ContentType = GrpcContentType;
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_options.Endpoints[index], path))
        {
            Content = content,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        return request;
    }

    private async Task<byte[]> CallAsync(string path, byte[] frame, bool retrySafe, CancellationToken cancellationToken)
    {
        int endpoints = _options.Endpoints.Count;
        Exception? last = null;

        // Two rounds over the members, so a client whose members are all restarting waits one short pause for them.
        for (int attempt = 0; attempt < 2 * endpoints; attempt++)
        {
            if (attempt == endpoints)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            int index = Volatile.Read(ref _current);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.RequestTimeout);
            try
            {
                using var request = Request(index, path, new ByteArrayContent(frame));

                // etcd gives up on the request when the client would have (gRPC's deadline, in milliseconds).
                request.Headers.TryAddWithoutValidation("grpc-timeout", ((long)_options.RequestTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "m");
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                byte[]? payload = null;
                var error = StatusError(response, trailersOnly: true);
                if (error is null)
                {
                    var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
                    payload = await ReadFrameAsync(stream, timeout.Token).ConfigureAwait(false);
                    while (await ReadFrameAsync(stream, timeout.Token).ConfigureAwait(false) is not null)
                    {
                        // A unary call has one answer; anything after it is drained so the trailers can be read.
                    }

                    error = StatusError(response, trailersOnly: false);
                }

                if (error is not null)
                {
                    if (!error.IsTransient)
                    {
                        throw error;
                    }

                    MoveOn(index);
                    if (!retrySafe)
                    {
                        throw error;
                    }

                    last = error;
                    continue;
                }

                return payload ?? throw new StateStoreException($"etcd answered {path} with no message.", isTransient: true);
            }
            catch (HttpRequestException exception) when (exception.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError)
            {
                // Nothing reached etcd: safe to send anywhere else.
                MoveOn(index);
                last = exception;
            }
            catch (Exception exception) when (EtcdFailures.IsTransport(exception, cancellationToken))
            {
                MoveOn(index);
                if (!retrySafe)
                {
                    throw new StateStoreException(
                        $"etcd at {_options.Endpoints[index]} did not answer {path}; the write may or may not have been applied.", isTransient: true, exception);
                }

                last = exception;
            }
        }

        throw new StateStoreException($"No etcd endpoint ({string.Join(", ", _options.Endpoints)}) answered {path}.{EtcdFailures.Detail(last)}", isTransient: true, last);
    }

    /// <summary>One gRPC message off the stream; null at its clean end.</summary>
    private static async Task<byte[]?> ReadFrameAsync(Stream stream, CancellationToken cancellationToken)
    {
        var header = new byte[FrameHeaderLength];
        int read = await stream.ReadAtLeastAsync(header, FrameHeaderLength, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            return null;
        }

        if (read < FrameHeaderLength)
        {
            throw new IOException("etcd's gRPC stream ended inside a message header.");
        }

        // Transient, as every failure after a request was sent: whether etcd applied it is unknown.
        if (header[0] != 0)
        {
            throw new StateStoreException("etcd sent a compressed gRPC message, which Holdfast never asks for.", isTransient: true);
        }

        int length = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(1));
        if (length is < 0 or > MaxMessageBytes)
        {
            throw new StateStoreException($"etcd sent a gRPC message of {length} bytes.", isTransient: true);
        }

        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload, cancellationToken).ConfigureAwait(false);
        return payload;
    }

    /// <summary>
    /// The call's gRPC status as an exception, or null for OK. A failed call may answer with headers only (status in
    /// the headers); otherwise the status is in the trailers, readable once the body has been read to its end.
    /// </summary>
    private static EtcdRequestException? StatusError(HttpResponseMessage response, bool trailersOnly)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            // Not a gRPC answer (a proxy, a wrong port): nothing says whether the request was applied, so transient.
            return new EtcdRequestException($"etcd answered HTTP {(int)response.StatusCode} to a gRPC call.", 0, isTransient: true);
        }

        var headers = trailersOnly ? response.Headers : response.TrailingHeaders;
        if (!headers.TryGetValues("grpc-status", out var values))
        {
            return trailersOnly ? null : new EtcdRequestException("etcd ended a gRPC call without a status.", 0, isTransient: true);
        }

        if (!int.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var code))
        {
            return new EtcdRequestException("etcd sent an unreadable gRPC status.", 0, isTransient: true);
        }

        if (code == 0)
        {
            return null;
        }

        var message = headers.TryGetValues("grpc-message", out var messages) ? Uri.UnescapeDataString(messages.FirstOrDefault() ?? string.Empty) : null;
        return EtcdRequestException.FromStatus(code, message);
    }

    private StateStoreException Unreachable(int index, Exception exception) =>
        new($"etcd at {_options.Endpoints[index]} is unreachable: {exception.Message}", isTransient: true, exception);

    private void MoveOn(int index) => Interlocked.CompareExchange(ref _current, (index + 1) % _options.Endpoints.Count, index);

    /// <summary>A request body that sends one message and then stays open until <paramref name="open"/> is cancelled.</summary>
    private sealed class OpenStreamContent(byte[] frame, CancellationToken open) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            await SerializeToStreamAsync(stream, context, CancellationToken.None).ConfigureAwait(false);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            using var both = CancellationTokenSource.CreateLinkedTokenSource(open, cancellationToken);
            try
            {
                await Task.Delay(Timeout.Infinite, both.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The watch is over: end the request side.
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
