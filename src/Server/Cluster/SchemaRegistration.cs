using System.Text.Json;
using System.Text.Json.Serialization;
using Holdfast.Providers.Framework;
using Holdfast.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server.Cluster;

/// <summary><c>/cluster/schemas/{id}</c>, on the replica's own lease: the newest schema version of each stored kind it reads.</summary>
internal sealed record ReplicaSchemas(string Replica, Dictionary<string, int> Schemas);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ReplicaSchemas))]
internal sealed partial class SchemaJson : JsonSerializerContext;

/// <summary>
/// Advertises what this replica reads (<c>/cluster/schemas/{id}</c>) and, about every second, sets
/// <see cref="SchemaLevels"/>' write levels to the minimum over every live replica: those registered under
/// <c>/cluster/replicas/</c> or <c>/cluster/schemas/</c>; a replica that advertises nothing (an earlier release) counts as
/// version 1. Until the first read succeeds the replica writes version 1.
/// </summary>
internal sealed partial class SchemaRegistration(IStateStore store, SchemaLevels levels, HoldfastServerOptions options, ILogger<SchemaRegistration> logger) : BackgroundService
{
    public const string SchemasPrefix = "/cluster/schemas/";

    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private long _lease;

    public static string Key(string replicaId) => SchemasPrefix + replicaId.ToLowerInvariant();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var replica = options.ResolvedReplicaId;
        var record = JsonSerializer.SerializeToUtf8Bytes(new ReplicaSchemas(replica, new Dictionary<string, int>(levels.SupportedAll, StringComparer.Ordinal)), SchemaJson.Default.ReplicaSchemas);
        var ttl = TimeSpan.FromSeconds(Math.Max(2, options.LeaderLeaseSeconds));
        var logged = new Dictionary<string, int>(StringComparer.Ordinal);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (_lease == 0 || !await store.KeepAliveAsync(_lease, stoppingToken).ConfigureAwait(false))
                {
                    _lease = (await store.GrantLeaseAsync(ttl, stoppingToken).ConfigureAwait(false)).Id;
                    await store.PutAsync(Key(replica), record, null, stoppingToken, _lease).ConfigureAwait(false);
                }

                await RefreshAsync(replica, logged, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is StateStoreException or JsonException or TimeoutException)
            {
                LogRefreshFailed(logger, ex);
            }

            try
            {
                await Task.Delay(Interval, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_lease != 0)
        {
            try
            {
                await store.RevokeLeaseAsync(_lease, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is StateStoreException or OperationCanceledException or TimeoutException)
            {
                LogRefreshFailed(logger, ex);
            }
        }
    }

    private async Task RefreshAsync(string self, Dictionary<string, int> logged, CancellationToken cancellationToken)
    {
        var live = new Dictionary<string, IReadOnlyDictionary<string, int>?>(StringComparer.Ordinal);
        foreach (var kv in await RangeAllAsync(ClusterKeys.ReplicasPrefix, cancellationToken).ConfigureAwait(false))
        {
            live.TryAdd(kv.Key[ClusterKeys.ReplicasPrefix.Length..], null);
        }

        foreach (var kv in await RangeAllAsync(SchemasPrefix, cancellationToken).ConfigureAwait(false))
        {
            var schemas = JsonSerializer.Deserialize(kv.Value.Span, SchemaJson.Default.ReplicaSchemas);
            live[kv.Key[SchemasPrefix.Length..]] = schemas?.Schemas;
        }

        live.Remove(self);
        levels.SetClusterLevels(live.Values);
        foreach (var kind in levels.SupportedAll.Keys)
        {
            var write = levels.Write(kind);
            if (!logged.TryGetValue(kind, out var before) || before != write)
            {
                logged[kind] = write;
                LogWriteLevel(logger, kind, write);
            }
        }
    }

    private async Task<List<KeyValue>> RangeAllAsync(string prefix, CancellationToken cancellationToken)
    {
        var all = new List<KeyValue>();
        string? after = null;
        do
        {
            var page = await store.RangeAsync(new RangeRequest(prefix, 500, after), cancellationToken).ConfigureAwait(false);
            all.AddRange(page.Items);
            after = page.ContinueAfter;
        }
        while (after is not null);
        return all;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Writing {Kind} documents at schema version {Version}")]
    private static partial void LogWriteLevel(ILogger logger, string kind, int version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not refresh the cluster's schema levels")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
