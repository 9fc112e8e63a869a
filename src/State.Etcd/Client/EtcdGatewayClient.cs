using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Holdfast.State.Etcd.Client;

/// <summary>
/// <see cref="IEtcdClient"/> over etcd's JSON gateway: <see cref="HttpClient"/>, HTTP/1.1 POSTs to <c>/v3/…</c>
/// (<c>--etcd-api gateway</c>; the default is <see cref="EtcdGrpcClient"/>, which costs etcd less CPU per request). Requests go to the
/// current endpoint; a connection that cannot be made moves to the next one and retries there, since nothing was sent.
/// A request that was sent but not answered (timeout, reset) is retried elsewhere only when it cannot change state;
/// a write in that state has an unknown outcome and fails as transient.
/// </summary>
internal sealed class EtcdGatewayClient : IEtcdClient
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly EtcdStateStoreOptions _options;
    private readonly HttpClient _http;
    private int _current;

    public EtcdGatewayClient(EtcdStateStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException("At least one etcd endpoint is required.", nameof(options));
        }

        _options = options;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            UseProxy = false,
        };
        if (options.Endpoints.Any(e => e.Scheme == Uri.UriSchemeHttps) && options.Tls is null)
        {
            throw new ArgumentException("https etcd endpoints need EtcdStateStoreOptions.Tls.", nameof(options));
        }

        options.Tls?.Apply(handler.SslOptions);

        // Streams (watches) carry their own deadlines; unary calls get RequestTimeout per attempt.
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The endpoint the next request goes to.</summary>
    public Uri CurrentEndpoint => _options.Endpoints[Volatile.Read(ref _current)];

    public Task<EtcdRangeResponse> RangeAsync(EtcdRangeRequest request, CancellationToken cancellationToken) =>
        CallAsync("v3/kv/range", request, EtcdJsonContext.Default.EtcdRangeRequest, EtcdJsonContext.Default.EtcdRangeResponse, retrySafe: true, cancellationToken);

    public Task<EtcdTxnResponse> TxnAsync(EtcdTxnRequest request, bool writes, CancellationToken cancellationToken) =>
        CallAsync("v3/kv/txn", request, EtcdJsonContext.Default.EtcdTxnRequest, EtcdJsonContext.Default.EtcdTxnResponse, retrySafe: !writes, cancellationToken);

    // Compaction to a revision is idempotent: a repeat reports "already compacted", which the store treats as done.
    public Task CompactAsync(EtcdCompactionRequest request, CancellationToken cancellationToken) =>
        CallAsync("v3/kv/compaction", request, EtcdJsonContext.Default.EtcdCompactionRequest, EtcdJsonContext.Default.EtcdCompactionResponse, retrySafe: true, cancellationToken);

    public Task<EtcdLeaseResponse> LeaseGrantAsync(EtcdLeaseGrantRequest request, CancellationToken cancellationToken) =>
        CallAsync("v3/lease/grant", request, EtcdJsonContext.Default.EtcdLeaseGrantRequest, EtcdJsonContext.Default.EtcdLeaseResponse, retrySafe: false, cancellationToken);

    public async Task<long> LeaseKeepAliveAsync(long leaseId, CancellationToken cancellationToken)
    {
        // The gateway answers a keepalive as a stream of {"result":…} lines, one per request line; a lost lease has no TTL.
        var line = await CallAsync(
            "v3/lease/keepalive",
            new EtcdLeaseRequest { Id = leaseId },
            EtcdJsonContext.Default.EtcdLeaseRequest,
            EtcdJsonContext.Default.EtcdStreamLineEtcdLeaseResponse,
            retrySafe: true,
            cancellationToken,
            firstLineOnly: true).ConfigureAwait(false);
        if (line.Error is { } error)
        {
            throw EtcdRequestException.FromStatus(error.GrpcCode, error.Message);
        }

        return line.Result?.Ttl ?? 0;
    }

    public Task LeaseRevokeAsync(long leaseId, CancellationToken cancellationToken) =>
        CallAsync("v3/lease/revoke", new EtcdLeaseRequest { Id = leaseId }, EtcdJsonContext.Default.EtcdLeaseRequest, EtcdJsonContext.Default.EtcdLeaseResponse, retrySafe: false, cancellationToken);

    public async IAsyncEnumerable<EtcdWatchResponse> WatchAsync(EtcdWatchCreateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(new EtcdWatchRequest { CreateRequest = request }, EtcdJsonContext.Default.EtcdWatchRequest);
        int index = Volatile.Read(ref _current);
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(_options.Endpoints[index], "v3/watch")) { Content = new ByteArrayContent(body) };
        message.Content.Headers.ContentType = Json;

        // grpc-gateway passes Grpc-Metadata-* headers on as gRPC metadata; "hasleader" makes etcd end the watch when
        // this member loses its leader, instead of leaving it silently open on a member cut off from the cluster.
        message.Headers.Add("Grpc-Metadata-hasleader", "true");
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

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                MoveOn(index);
                throw await ErrorFromAsync(response, cancellationToken).ConfigureAwait(false);
            }

            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            using var reader = new StreamReader(stream);
            while (true)
            {
                string? text;
                try
                {
                    text = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception exception) when (EtcdFailures.IsTransport(exception, cancellationToken))
                {
                    MoveOn(index);
                    throw Unreachable(index, exception);
                }

                if (text is null)
                {
                    throw new StateStoreException($"etcd at {_options.Endpoints[index]} ended the watch stream.", isTransient: true);
                }

                if (text.Length == 0)
                {
                    continue;
                }

                var line = JsonSerializer.Deserialize(text, EtcdJsonContext.Default.EtcdStreamLineEtcdWatchResponse)
                    ?? throw new StateStoreException("etcd sent an empty watch message.", isTransient: true);
                if (line.Error is { } error)
                {
                    MoveOn(index);
                    throw EtcdRequestException.FromStatus(error.GrpcCode, error.Message);
                }

                if (line.Result is { } result)
                {
                    yield return result;
                }
            }
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<TResponse> CallAsync<TRequest, TResponse>(
        string path,
        TRequest request,
        JsonTypeInfo<TRequest> requestInfo,
        JsonTypeInfo<TResponse> responseInfo,
        bool retrySafe,
        CancellationToken cancellationToken,
        bool firstLineOnly = false)
        where TResponse : class
    {
        // Serialized once, before the first await: the caller may reuse its buffers as soon as this returns.
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(request, requestInfo);
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
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = Json;
                using var response = await _http.PostAsync(new Uri(_options.Endpoints[index], path), content, timeout.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    var error = await ErrorFromAsync(response, timeout.Token).ConfigureAwait(false);
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

                string text = firstLineOnly
                    ? await ReadFirstLineAsync(response, timeout.Token).ConfigureAwait(false)
                    : await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                return JsonSerializer.Deserialize(text, responseInfo)
                    ?? throw new StateStoreException($"etcd answered {path} with an empty body.", isTransient: true);
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

    private static async Task<string> ReadFirstLineAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream);
        string? line;
        do
        {
            line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        while (line is { Length: 0 });

        return line ?? throw new StateStoreException("etcd closed the stream without an answer.", isTransient: true);
    }

    private static async Task<EtcdRequestException> ErrorFromAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (JsonSerializer.Deserialize(text, EtcdJsonContext.Default.EtcdErrorBody) is { Code: > 0 } body)
            {
                return EtcdRequestException.FromStatus(body.Code, body.Message ?? body.Error);
            }
        }
        catch (JsonException)
        {
            // Not the unary error shape: perhaps a stream's {"error":{"grpc_code",…}} (watch, keepalive), tried next.
        }

        try
        {
            if (JsonSerializer.Deserialize(text, EtcdJsonContext.Default.EtcdStreamLineEtcdWatchResponse)?.Error is { GrpcCode: > 0 } streamError)
            {
                return EtcdRequestException.FromStatus(streamError.GrpcCode, streamError.Message);
            }
        }
        catch (JsonException)
        {
            // Not the gateway at all (a proxy, a wrong port): classified by the HTTP status below.
        }

        int status = (int)response.StatusCode;
        return new EtcdRequestException($"etcd answered HTTP {status}: {text.Trim()}", 0, isTransient: status >= 500);
    }

    private StateStoreException Unreachable(int index, Exception exception) =>
        new($"etcd at {_options.Endpoints[index]} is unreachable: {exception.Message}", isTransient: true, exception);

    private void MoveOn(int index) => Interlocked.CompareExchange(ref _current, (index + 1) % _options.Endpoints.Count, index);
}
