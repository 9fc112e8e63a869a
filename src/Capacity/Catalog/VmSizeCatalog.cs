namespace Holdfast.Capacity.Catalog;

/// <summary>
/// The VM sizes this cloud offers: a subset of Azure's B, Dv3/DSv3, Dv5/DSv5, Ev5/ESv5, FSv2 and NC sizes with Azure's
/// names, vCPUs, memory, resource-disk size, data-disk limit, GPUs and quota family (as Azure publishes them). Names are
/// matched case-insensitively, as Azure does. Which sizes a region actually offers depends on its fleet; that filter
/// is the server's (a size is offered when some in-service host could hold it).
/// </summary>
public static class VmSizeCatalog
{
    private const int GiB = 1024;

    private static readonly VmFamily[] FamilyList =
    [
        new("standardBSFamily", "Standard BS Family vCPUs"),
        new("standardDv3Family", "Standard Dv3 Family vCPUs"),
        new("standardDSv3Family", "Standard DSv3 Family vCPUs"),
        new("standardDv5Family", "Standard Dv5 Family vCPUs"),
        new("standardDSv5Family", "Standard DSv5 Family vCPUs"),
        new("standardEv5Family", "Standard Ev5 Family vCPUs"),
        new("standardESv5Family", "Standard ESv5 Family vCPUs"),
        new("standardFSv2Family", "Standard FSv2 Family vCPUs"),
        new("standardNCFamily", "Standard NC Family vCPUs"),
    ];

    private static readonly VmSize[] SizeList =
    [
        // B-series (burstable)
        new("Standard_B1s", 1, 1 * GiB, 4, 2, "standardBSFamily"),
        new("Standard_B1ms", 1, 2 * GiB, 4, 2, "standardBSFamily"),
        new("Standard_B2s", 2, 4 * GiB, 8, 4, "standardBSFamily"),
        new("Standard_B2ms", 2, 8 * GiB, 16, 4, "standardBSFamily"),
        new("Standard_B4ms", 4, 16 * GiB, 32, 8, "standardBSFamily"),
        new("Standard_B8ms", 8, 32 * GiB, 64, 16, "standardBSFamily"),
        new("Standard_B12ms", 12, 48 * GiB, 96, 16, "standardBSFamily"),
        new("Standard_B16ms", 16, 64 * GiB, 128, 32, "standardBSFamily"),

        // Dv3 and DSv3 (general purpose)
        new("Standard_D2_v3", 2, 8 * GiB, 50, 4, "standardDv3Family"),
        new("Standard_D4_v3", 4, 16 * GiB, 100, 8, "standardDv3Family"),
        new("Standard_D8_v3", 8, 32 * GiB, 200, 16, "standardDv3Family"),
        new("Standard_D16_v3", 16, 64 * GiB, 400, 32, "standardDv3Family"),
        new("Standard_D2s_v3", 2, 8 * GiB, 16, 4, "standardDSv3Family"),
        new("Standard_D4s_v3", 4, 16 * GiB, 32, 8, "standardDSv3Family"),
        new("Standard_D8s_v3", 8, 32 * GiB, 64, 16, "standardDSv3Family"),
        new("Standard_D16s_v3", 16, 64 * GiB, 128, 32, "standardDSv3Family"),
        new("Standard_D32s_v3", 32, 128 * GiB, 256, 32, "standardDSv3Family"),
        new("Standard_D64s_v3", 64, 256 * GiB, 512, 32, "standardDSv3Family"),

        // Dv5 and DSv5 (no resource disk)
        new("Standard_D2_v5", 2, 8 * GiB, 0, 4, "standardDv5Family"),
        new("Standard_D4_v5", 4, 16 * GiB, 0, 8, "standardDv5Family"),
        new("Standard_D8_v5", 8, 32 * GiB, 0, 16, "standardDv5Family"),
        new("Standard_D16_v5", 16, 64 * GiB, 0, 32, "standardDv5Family"),
        new("Standard_D2s_v5", 2, 8 * GiB, 0, 4, "standardDSv5Family"),
        new("Standard_D4s_v5", 4, 16 * GiB, 0, 8, "standardDSv5Family"),
        new("Standard_D8s_v5", 8, 32 * GiB, 0, 16, "standardDSv5Family"),
        new("Standard_D16s_v5", 16, 64 * GiB, 0, 32, "standardDSv5Family"),
        new("Standard_D32s_v5", 32, 128 * GiB, 0, 32, "standardDSv5Family"),
        new("Standard_D64s_v5", 64, 256 * GiB, 0, 32, "standardDSv5Family"),

        // Ev5 and ESv5 (memory optimised, no resource disk)
        new("Standard_E2_v5", 2, 16 * GiB, 0, 4, "standardEv5Family"),
        new("Standard_E4_v5", 4, 32 * GiB, 0, 8, "standardEv5Family"),
        new("Standard_E8_v5", 8, 64 * GiB, 0, 16, "standardEv5Family"),
        new("Standard_E2s_v5", 2, 16 * GiB, 0, 4, "standardESv5Family"),
        new("Standard_E4s_v5", 4, 32 * GiB, 0, 8, "standardESv5Family"),
        new("Standard_E8s_v5", 8, 64 * GiB, 0, 16, "standardESv5Family"),
        new("Standard_E16s_v5", 16, 128 * GiB, 0, 32, "standardESv5Family"),
        new("Standard_E32s_v5", 32, 256 * GiB, 0, 32, "standardESv5Family"),

        // FSv2 (compute optimised)
        new("Standard_F2s_v2", 2, 4 * GiB, 16, 4, "standardFSv2Family"),
        new("Standard_F4s_v2", 4, 8 * GiB, 32, 8, "standardFSv2Family"),
        new("Standard_F8s_v2", 8, 16 * GiB, 64, 16, "standardFSv2Family"),
        new("Standard_F16s_v2", 16, 32 * GiB, 128, 32, "standardFSv2Family"),
        new("Standard_F32s_v2", 32, 64 * GiB, 256, 32, "standardFSv2Family"),
        new("Standard_F72s_v2", 72, 144 * GiB, 576, 32, "standardFSv2Family"),

        // NC (GPU: one NVIDIA Tesla K80 half per 6 vCPUs)
        new("Standard_NC6", 6, 56 * GiB, 340, 24, "standardNCFamily", Gpus: 1),
        new("Standard_NC12", 12, 112 * GiB, 680, 48, "standardNCFamily", Gpus: 2),
        new("Standard_NC24", 24, 224 * GiB, 1440, 64, "standardNCFamily", Gpus: 4),
    ];

    private static readonly Dictionary<string, VmSize> ByName = SizeList.ToDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);
    private static readonly Dictionary<string, VmFamily> FamilyByName = FamilyList.ToDictionary(f => f.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Every size, in catalog order (by family, then size).</summary>
    public static IReadOnlyList<VmSize> Sizes => SizeList;

    /// <summary>Every quota family a size belongs to, in catalog order.</summary>
    public static IReadOnlyList<VmFamily> Families => FamilyList;

    /// <summary>The size named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static VmSize? Find(string? name) => name is not null && ByName.TryGetValue(name, out var size) ? size : null;

    /// <summary>The family named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static VmFamily? FindFamily(string? name) => name is not null && FamilyByName.TryGetValue(name, out var family) ? family : null;
}
