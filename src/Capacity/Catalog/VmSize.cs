using Holdfast.Capacity.Inventory;

namespace Holdfast.Capacity.Catalog;

/// <summary>
/// One Azure VM size as the catalog knows it: Azure's exact name, vCPUs, memory, the local (resource, "temp") disk,
/// the data-disk limit, GPUs, and the quota family Azure's usages API counts its vCPUs against.
/// </summary>
public sealed record VmSize(string Name, int VCpus, int MemoryMiB, int ResourceDiskGiB, int MaxDataDisks, string Family, int Gpus = 0)
{
    /// <summary>What Azure reports as <c>osDiskSizeInMB</c> for every size (the 1 TiB OS-disk limit).</summary>
    public const int OsDiskSizeInMB = 1047552;

    /// <summary>
    /// What a VM of this size takes from its host. The resource disk is host-local, so it is the disk dimension;
    /// OS and data disks are remote (managed disks) and take no host disk.
    /// </summary>
    public CapacityVector Demand => new(VCpus, MemoryMiB, ResourceDiskGiB, Gpus);
}

/// <summary>A quota family: Azure's usage name (<c>standardDSv3Family</c>) and its display name.</summary>
public sealed record VmFamily(string Name, string LocalizedName);
