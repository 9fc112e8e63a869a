namespace Holdfast.Capacity.Inventory;

/// <summary>
/// An amount of host resources in the four dimensions placement packs: vCPUs, memory (MiB), local disk (GiB) and GPUs.
/// Used both for what a host has and what a VM asks for; arithmetic is exact (integers), so sums never drift.
/// </summary>
public readonly record struct CapacityVector(int VCpus, int MemoryMiB, int DiskGiB, int Gpus)
{
    /// <summary>Number of dimensions; <see cref="this[int]"/> indexes them in the order vCPUs, memory, disk, GPUs.</summary>
    public const int Dimensions = 4;

    public static CapacityVector Zero => default;

    /// <summary>Dimension names, in <see cref="this[int]"/> order, as reports print them.</summary>
    public static IReadOnlyList<string> DimensionNames { get; } = ["vCPUs", "memoryMiB", "diskGiB", "gpus"];

    public int this[int dimension] => dimension switch
    {
        0 => VCpus,
        1 => MemoryMiB,
        2 => DiskGiB,
        3 => Gpus,
        _ => throw new ArgumentOutOfRangeException(nameof(dimension)),
    };

    /// <summary>True when no dimension is negative.</summary>
    public bool IsNonNegative => VCpus >= 0 && MemoryMiB >= 0 && DiskGiB >= 0 && Gpus >= 0;

    public bool IsZero => this == default;

    /// <summary>True when <paramref name="demand"/> fits in this amount in every dimension.</summary>
    public bool Fits(CapacityVector demand) =>
        demand.VCpus <= VCpus && demand.MemoryMiB <= MemoryMiB && demand.DiskGiB <= DiskGiB && demand.Gpus <= Gpus;

    public static CapacityVector operator +(CapacityVector left, CapacityVector right) =>
        new(left.VCpus + right.VCpus, left.MemoryMiB + right.MemoryMiB, left.DiskGiB + right.DiskGiB, left.Gpus + right.Gpus);

    public static CapacityVector operator -(CapacityVector left, CapacityVector right) =>
        new(left.VCpus - right.VCpus, left.MemoryMiB - right.MemoryMiB, left.DiskGiB - right.DiskGiB, left.Gpus - right.Gpus);

    public static CapacityVector Add(CapacityVector left, CapacityVector right) => left + right;

    public static CapacityVector Subtract(CapacityVector left, CapacityVector right) => left - right;

    /// <summary>The per-dimension maximum of the two.</summary>
    public static CapacityVector Max(CapacityVector left, CapacityVector right) =>
        new(Math.Max(left.VCpus, right.VCpus), Math.Max(left.MemoryMiB, right.MemoryMiB), Math.Max(left.DiskGiB, right.DiskGiB), Math.Max(left.Gpus, right.Gpus));

    public override string ToString() => $"{VCpus} vCPUs, {MemoryMiB} MiB, {DiskGiB} GiB disk, {Gpus} GPUs";
}
