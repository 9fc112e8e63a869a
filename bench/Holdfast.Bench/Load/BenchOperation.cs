namespace Holdfast.Bench.Load;

/// <summary>The four measurements of one concurrency level, in the order they run (interleaved, so noise hits all alike).</summary>
internal enum BenchOperation
{
    /// <summary><c>GET /holdfast/whoami</c>: authentication and the ARM pipeline, no store: the HTTP ceiling.</summary>
    Ceiling,

    /// <summary><c>GET</c> of one existing resource group.</summary>
    GetGroup,

    /// <summary><c>PUT</c> of resource groups, each worker cycling through its own names: every request is a durable write.</summary>
    PutGroup,

    /// <summary><c>SqliteStateStore.PutAsync</c> in-process on a fresh file: the raw durable-write rate.</summary>
    RawStore,

    /// <summary>With <c>--store etcd</c>, instead of <see cref="RawStore"/>: <c>POST /v3/kv/put</c> through etcd's JSON gateway.</summary>
    RawEtcd,
}

internal static class BenchOperationNames
{
    /// <summary>The operations one concurrency level runs, in order: the raw write matches the server's store.</summary>
    public static IReadOnlyList<BenchOperation> For(BenchOptions options) => options.Etcd
        ? [BenchOperation.Ceiling, BenchOperation.GetGroup, BenchOperation.PutGroup, BenchOperation.RawEtcd]
        : [BenchOperation.Ceiling, BenchOperation.GetGroup, BenchOperation.PutGroup, BenchOperation.RawStore];

    public static string Describe(this BenchOperation operation) => operation switch
    {
        BenchOperation.Ceiling => "GET /holdfast/whoami (ceiling)",
        BenchOperation.GetGroup => "GET resource group",
        BenchOperation.PutGroup => "PUT resource group",
        BenchOperation.RawStore => "SqliteStateStore.PutAsync (raw, in-process)",
        BenchOperation.RawEtcd => "etcd POST /v3/kv/put (raw, gateway)",
        _ => operation.ToString(),
    };
}
