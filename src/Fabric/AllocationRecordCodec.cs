using Holdfast.Capacity.Inventory;
using Holdfast.Capacity.Placement;

namespace Holdfast.Fabric;

/// <summary>
/// The stored form of a <see cref="HostAllocationRecord"/> at <see cref="FabricKeys.Allocations"/>. The version is not
/// stored: it is the key's mod revision, so a decoded record is always at the version the store gave it.
/// </summary>
public static class AllocationRecordCodec
{
    public static byte[] Encode(HostAllocationRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return FabricJson.Serialize(new Stored(
            record.HostName,
            [.. record.Allocations.Select(a => new StoredAllocation(a.Id, a.Demand, a.ReservationId, a.AvailabilitySet, a.AntiAffinityGroup))],
            [.. record.Reservations.Select(r => new StoredHold(r.ReservationId, r.Held))]));
    }

    public static HostAllocationRecord Decode(ReadOnlySpan<byte> utf8, long modRevision)
    {
        var stored = FabricJson.Deserialize<Stored>(utf8);
        return new HostAllocationRecord(
            stored.Host,
            modRevision,
            [.. stored.Allocations.Select(a => new Allocation(a.Id, a.Demand) { ReservationId = a.ReservationId, AvailabilitySet = a.AvailabilitySet, AntiAffinityGroup = a.AntiAffinityGroup })],
            [.. stored.Reservations.Select(r => new ReservationHold(r.ReservationId, r.Held))]);
    }

    private sealed record Stored(string Host, IReadOnlyList<StoredAllocation> Allocations, IReadOnlyList<StoredHold> Reservations);

    private sealed record StoredAllocation(string Id, CapacityVector Demand, string? ReservationId = null, string? AvailabilitySet = null, string? AntiAffinityGroup = null);

    private sealed record StoredHold(string ReservationId, CapacityVector Held);
}
