namespace Holdfast.Fabric;

/// <summary>
/// Where the fleet lives in the store (lower-cased names, as every key). The host document is the operator's intent
/// plus the lifecycle state; the allocation record is placement's unit of compare-and-swap (its version is the key's mod
/// revision); an instance document is one placed VM: which host runs it and at which fencing epoch.
/// </summary>
public static class FabricKeys
{
    /// <summary>Everything the fleet stores (what the placement index watches).</summary>
    public const string Prefix = "/fabric/";

    public const string SitesPrefix = "/fabric/sites/";
    public const string ClustersPrefix = "/fabric/clusters/";
    public const string RacksPrefix = "/fabric/racks/";
    public const string HostsPrefix = "/fabric/hosts/";
    public const string AllocationsPrefix = "/fabric/allocations/";
    public const string InstancesPrefix = "/fabric/instances/";
    public const string JoinTokensPrefix = "/fabric/jointokens/";
    public const string UsageHistoryPrefix = "/fabric/usagehistory/";

    public static string Site(string name) => SitesPrefix + name.ToLowerInvariant();

    public static string Cluster(string name) => ClustersPrefix + name.ToLowerInvariant();

    public static string Rack(string name) => RacksPrefix + name.ToLowerInvariant();

    public static string Host(string name) => HostsPrefix + name.ToLowerInvariant();

    public static string Allocations(string hostName) => AllocationsPrefix + hostName.ToLowerInvariant();

    public static string Instance(string instanceId) => InstancesPrefix + instanceId.ToLowerInvariant();

    /// <summary>A host's outstanding one-time join token (hashed); consumed by the agent's join.</summary>
    public static string JoinToken(string hostName) => JoinTokensPrefix + hostName.ToLowerInvariant();

    /// <summary>One usage sample of the whole fleet, ordered by time (forecast input).</summary>
    public static string UsageSample(DateTimeOffset at) => UsageHistoryPrefix + at.UtcDateTime.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The name at the end of a key.</summary>
    public static string NameOf(string key) => key[(key.LastIndexOf('/') + 1)..];
}
