using Holdfast.Capacity.Inventory;

namespace Holdfast.Capacity.Placement;

/// <summary>One host as the index keeps it: its description, allocation record and the derived values decisions read.</summary>
internal sealed class HostSlot(HostDescription description, HostAllocationRecord record)
{
    public HostDescription Description { get; set; } = description;

    public HostAllocationRecord Record { get; set; } = record;

    public int Cluster { get; set; }

    /// <summary>Cluster and rack, lower-cased: fault domains are per cluster.</summary>
    public string FaultDomainKey { get; set; } = "";

    /// <summary>Cluster ordinal and update domain in one key.</summary>
    public long UpdateDomainKey { get; set; }

    public ulong[] Traits { get; set; } = [];

    /// <summary>Capacity − used − reservation holds not yet consumed: what a request naming no reservation may use.</summary>
    public CapacityVector GeneralFree { get; set; }

    /// <summary>Members per anti-affinity group on this host (null while there are none).</summary>
    public Dictionary<string, int>? AntiAffinity { get; set; }

    /// <summary>Members per availability set on this host (null while there are none).</summary>
    public Dictionary<string, int>? SetMembers { get; set; }

    public int Bucket { get; set; } = -1;

    public int BucketPosition { get; set; }

    public CapacityVector Capacity => Description.Capacity;

    public bool InService => Description.State == HostState.InService;

    public bool HasTraits(ulong[] required)
    {
        for (var i = 0; i < required.Length; i++)
        {
            var have = i < Traits.Length ? Traits[i] : 0UL;
            if ((have & required[i]) != required[i])
            {
                return false;
            }
        }

        return true;
    }

    public int AntiAffinityMembers(string group) => Count(AntiAffinity, group);

    public int AvailabilitySetMembers(string set) => Count(SetMembers, set);

    /// <summary>Adds <paramref name="delta"/> to <paramref name="key"/>'s count, creating the map on first use and dropping zeros.</summary>
    public static void Adjust(ref Dictionary<string, int>? counts, string key, int delta)
    {
        counts ??= new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var members = counts.GetValueOrDefault(key) + delta;
        if (members == 0)
        {
            counts.Remove(key);
        }
        else
        {
            counts[key] = members;
        }
    }

    private static int Count(Dictionary<string, int>? counts, string key) =>
        counts is not null && counts.TryGetValue(key, out var n) ? n : 0;
}

/// <summary>
/// A cluster's InService hosts bucketed by free vCPUs (exact up to <see cref="Cap"/>, everything above in the last
/// bucket), so best fit walks from the smallest free amount that can fit upward instead of scanning the fleet.
/// Removal is O(1) (swap with the last).
/// </summary>
internal sealed class ClusterBuckets(string name)
{
    public const int Cap = 1024;

    private readonly List<HostSlot>?[] _buckets = new List<HostSlot>?[Cap + 1];

    public string Name { get; } = name;

    /// <summary>InService hosts per fault-domain key, and per update domain: the domains spread can use.</summary>
    public Dictionary<string, int> FaultDomains { get; } = new(StringComparer.Ordinal);

    public Dictionary<long, int> UpdateDomains { get; } = [];

    public static int KeyOf(int freeVCpus) => Math.Clamp(freeVCpus, 0, Cap);

    public List<HostSlot>? this[int bucket] => _buckets[bucket];

    public void Add(HostSlot slot)
    {
        var key = KeyOf(slot.GeneralFree.VCpus);
        var list = _buckets[key] ??= [];
        slot.Bucket = key;
        slot.BucketPosition = list.Count;
        list.Add(slot);
    }

    public void Remove(HostSlot slot)
    {
        var list = _buckets[slot.Bucket]!;
        var last = list[^1];
        list[slot.BucketPosition] = last;
        last.BucketPosition = slot.BucketPosition;
        list.RemoveAt(list.Count - 1);
        slot.Bucket = -1;
    }
}
