using System.Collections.Frozen;

namespace Holdfast.Providers.Framework;

/// <summary>
/// The schema versions of stored document kinds, as Kubernetes keeps storage versions: this binary reads every version up
/// to <see cref="Supported"/> (migrating older ones in memory) and writes <see cref="Write"/>, the newest version every
/// live replica understands, so replicas of release N and N+1 run side by side and the written format flips only once
/// the last replica understands it. Until the cluster's levels are known (and in a test without a cluster) a replica
/// writes version 1, which every release reads.
/// </summary>
public sealed class SchemaLevels
{
    /// <summary>Operation records (<c>/operations/{id}</c>). 2: <c>providerNamespace</c> is stored.</summary>
    public const string Operation = "operation";

    /// <summary>
    /// The activity log's chained entries. 1: one key per entry (<c>/audit/entries/</c>); 2: one block per chaining
    /// batch (<c>/audit/blocks/</c>), read alongside version 1 entries.
    /// </summary>
    public const string AuditLog = "auditLog";

    /// <summary>The newest version of each kind this release knows; a kind not listed is at version 1.</summary>
    public static FrozenDictionary<string, int> Latest { get; } = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        [Operation] = 2,
        [AuditLog] = 2,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private volatile FrozenDictionary<string, int> _write = FrozenDictionary<string, int>.Empty;

    /// <param name="maxSchema">Caps every kind's version (a replica behaving as an earlier release); null: no cap.</param>
    public SchemaLevels(int? maxSchema = null)
    {
        MaxSchema = maxSchema is { } max ? Math.Max(1, max) : null;
        SupportedAll = Latest.ToFrozenDictionary(p => p.Key, p => Cap(p.Value), StringComparer.Ordinal);
    }

    public int? MaxSchema { get; }

    /// <summary>What this replica understands, per kind (advertised to the other replicas).</summary>
    public FrozenDictionary<string, int> SupportedAll { get; }

    /// <summary>The newest version of <paramref name="kind"/> this replica reads.</summary>
    public int Supported(string kind) => SupportedAll.TryGetValue(kind, out var version) ? version : 1;

    /// <summary>The version of <paramref name="kind"/> to write: the cluster minimum, never above what this replica knows.</summary>
    public int Write(string kind) => _write.TryGetValue(kind, out var version) ? Math.Min(version, Supported(kind)) : 1;

    /// <summary>Sets the write levels from what each live replica understands (a replica that advertises nothing: version 1).</summary>
    public void SetClusterLevels(IReadOnlyCollection<IReadOnlyDictionary<string, int>?> replicas)
    {
        ArgumentNullException.ThrowIfNull(replicas);
        _write = ClusterMinimum(SupportedAll, replicas);
    }

    /// <summary>Per kind, the lowest version any replica understands (this replica's own levels included).</summary>
    public static FrozenDictionary<string, int> ClusterMinimum(IReadOnlyDictionary<string, int> own, IReadOnlyCollection<IReadOnlyDictionary<string, int>?> replicas)
    {
        ArgumentNullException.ThrowIfNull(own);
        ArgumentNullException.ThrowIfNull(replicas);
        var result = new Dictionary<string, int>(own, StringComparer.Ordinal);
        foreach (var kind in own.Keys)
        {
            foreach (var replica in replicas)
            {
                var version = replica is not null && replica.TryGetValue(kind, out var v) ? v : 1;
                result[kind] = Math.Min(result[kind], version);
            }
        }

        return result.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private int Cap(int version) => MaxSchema is { } max ? Math.Min(version, max) : version;
}
