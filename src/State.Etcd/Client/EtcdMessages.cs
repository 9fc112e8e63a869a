using System.Text.Json.Serialization;

namespace Holdfast.State.Etcd.Client;

// The etcd v3 messages the store uses (etcdserverpb, mvccpb): EtcdProto reads and writes them as protocol buffers for
// the gRPC client, and the JSON attributes below give the JSON gateway's rendering (bytes in base64, int64s as
// strings) for the gateway client. Fields holding their default value are left out on both, so every response field
// here is optional.
internal sealed class EtcdHeader
{
    public long Revision { get; init; }
}

internal sealed class EtcdKeyValue
{
    public byte[]? Key { get; init; }

    public byte[]? Value { get; init; }

    public long CreateRevision { get; init; }

    public long ModRevision { get; init; }

    public long Version { get; init; }

    public long Lease { get; init; }
}

internal sealed class EtcdRangeRequest
{
    public required byte[] Key { get; init; }

    public byte[]? RangeEnd { get; init; }

    public long Limit { get; init; }

    public bool CountOnly { get; init; }

    /// <summary>Reads at this etcd revision; 0 (left out) reads the newest.</summary>
    public long Revision { get; init; }

    /// <summary>Answered from the member's own store without a ReadIndex round to the leader (may be behind).</summary>
    public bool Serializable { get; init; }
}

internal sealed class EtcdRangeResponse
{
    public EtcdHeader? Header { get; init; }

    public List<EtcdKeyValue>? Kvs { get; init; }

    public bool More { get; init; }
}

internal sealed class EtcdPutRequest
{
    public required byte[] Key { get; init; }

    // Written even when empty: an empty value is a value.
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public required byte[] Value { get; init; }

    public long Lease { get; init; }

    public bool PrevKv { get; init; }
}

internal sealed class EtcdPutResponse
{
    public EtcdHeader? Header { get; init; }

    public EtcdKeyValue? PrevKv { get; init; }
}

internal sealed class EtcdDeleteRangeRequest
{
    public required byte[] Key { get; init; }

    public byte[]? RangeEnd { get; init; }

    public bool PrevKv { get; init; }
}

internal sealed class EtcdDeleteRangeResponse
{
    public EtcdHeader? Header { get; init; }

    public long Deleted { get; init; }

    public List<EtcdKeyValue>? PrevKvs { get; init; }
}

internal sealed class EtcdCompare
{
    public required byte[] Key { get; init; }

    /// <summary>VERSION, CREATE, MOD or VALUE.</summary>
    public required string Target { get; init; }

    /// <summary>EQUAL, GREATER, LESS or NOT_EQUAL.</summary>
    public required string Result { get; init; }

    public long Version { get; init; }

    public long CreateRevision { get; init; }

    public long ModRevision { get; init; }

    public byte[]? Value { get; init; }
}

internal sealed class EtcdRequestOp
{
    public EtcdRangeRequest? RequestRange { get; init; }

    public EtcdPutRequest? RequestPut { get; init; }

    public EtcdDeleteRangeRequest? RequestDeleteRange { get; init; }
}

internal sealed class EtcdResponseOp
{
    public EtcdRangeResponse? ResponseRange { get; init; }

    public EtcdPutResponse? ResponsePut { get; init; }

    public EtcdDeleteRangeResponse? ResponseDeleteRange { get; init; }
}

internal sealed class EtcdTxnRequest
{
    public List<EtcdCompare>? Compare { get; init; }

    public List<EtcdRequestOp>? Success { get; init; }

    public List<EtcdRequestOp>? Failure { get; init; }
}

internal sealed class EtcdTxnResponse
{
    public EtcdHeader? Header { get; init; }

    public bool Succeeded { get; init; }

    public List<EtcdResponseOp>? Responses { get; init; }
}

internal sealed class EtcdCompactionRequest
{
    public long Revision { get; init; }

    public bool Physical { get; init; }
}

internal sealed class EtcdCompactionResponse
{
    public EtcdHeader? Header { get; init; }
}

internal sealed class EtcdLeaseGrantRequest
{
    [JsonPropertyName("TTL")]
    public long Ttl { get; init; }
}

internal sealed class EtcdLeaseRequest
{
    [JsonPropertyName("ID")]
    public long Id { get; init; }
}

/// <summary>Grant, keepalive result and revoke share this shape; a keepalive of a lost lease has no TTL.</summary>
internal sealed class EtcdLeaseResponse
{
    public EtcdHeader? Header { get; init; }

    [JsonPropertyName("ID")]
    public long Id { get; init; }

    [JsonPropertyName("TTL")]
    public long Ttl { get; init; }
}

/// <summary>One line of a streamed answer (watch, keepalive): a result, or an error that ends the stream.</summary>
internal sealed class EtcdStreamLine<T>
    where T : class
{
    public T? Result { get; init; }

    public EtcdStreamError? Error { get; init; }
}

internal sealed class EtcdStreamError
{
    public int GrpcCode { get; init; }

    public string? Message { get; init; }
}

internal sealed class EtcdWatchCreateRequest
{
    public required byte[] Key { get; init; }

    public byte[]? RangeEnd { get; init; }

    public long StartRevision { get; init; }
}

internal sealed class EtcdWatchRequest
{
    public required EtcdWatchCreateRequest CreateRequest { get; init; }
}

internal sealed class EtcdWatchResponse
{
    public EtcdHeader? Header { get; init; }

    public bool Created { get; init; }

    public bool Canceled { get; init; }

    public long CompactRevision { get; init; }

    public string? CancelReason { get; init; }

    /// <summary>More parts of this response follow (etcd splits a response over its size limit when asked to).</summary>
    public bool Fragment { get; init; }

    public List<EtcdEvent>? Events { get; init; }
}

internal sealed class EtcdEvent
{
    /// <summary>Absent for PUT (the default), "DELETE" for a delete.</summary>
    public string? Type { get; init; }

    public EtcdKeyValue? Kv { get; init; }
}

/// <summary>The body of a failed unary call: <c>{"error","message","code"}</c> with a gRPC status code.</summary>
internal sealed class EtcdErrorBody
{
    public string? Error { get; init; }

    public string? Message { get; init; }

    public int Code { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault,
    NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(EtcdRangeRequest))]
[JsonSerializable(typeof(EtcdRangeResponse))]
[JsonSerializable(typeof(EtcdTxnRequest))]
[JsonSerializable(typeof(EtcdTxnResponse))]
[JsonSerializable(typeof(EtcdCompactionRequest))]
[JsonSerializable(typeof(EtcdCompactionResponse))]
[JsonSerializable(typeof(EtcdLeaseGrantRequest))]
[JsonSerializable(typeof(EtcdLeaseRequest))]
[JsonSerializable(typeof(EtcdLeaseResponse))]
[JsonSerializable(typeof(EtcdStreamLine<EtcdLeaseResponse>))]
[JsonSerializable(typeof(EtcdWatchRequest))]
[JsonSerializable(typeof(EtcdStreamLine<EtcdWatchResponse>))]
[JsonSerializable(typeof(EtcdErrorBody))]
internal sealed partial class EtcdJsonContext : JsonSerializerContext;
