using System.Collections.Immutable;
using Holdfast.Capacity.Inventory;

namespace Holdfast.Capacity.Placement;

/// <summary>
/// Everything placed on one host, with the version the store gave the record. This is the unit of compare-and-swap:
/// a placement is committed by writing <see cref="WithAllocation"/>'s result only if the stored record still has
/// <see cref="Version"/>, so two placers that chose the same host from the same view cannot both win. Immutable.
/// </summary>
public sealed class HostAllocationRecord
{
    public HostAllocationRecord(string hostName, long version, ImmutableArray<Allocation> allocations, ImmutableArray<ReservationHold> reservations)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(hostName);
        ArgumentOutOfRangeException.ThrowIfNegative(version);
        HostName = hostName;
        Version = version;
        Allocations = allocations.IsDefault ? [] : allocations;
        Reservations = reservations.IsDefault ? [] : reservations;
        var used = CapacityVector.Zero;
        foreach (var allocation in Allocations)
        {
            used += allocation.Demand;
        }

        Used = used;
    }

    public string HostName { get; }

    /// <summary>The store's version of the record (its mod revision); 0 for a host that has never had one.</summary>
    public long Version { get; }

    public ImmutableArray<Allocation> Allocations { get; }

    public ImmutableArray<ReservationHold> Reservations { get; }

    /// <summary>Sum of every allocation's demand.</summary>
    public CapacityVector Used { get; }

    /// <summary>An empty record at version 0.</summary>
    public static HostAllocationRecord Empty(string hostName) => new(hostName, 0, [], []);

    /// <summary>Held reservation capacity not yet consumed by allocations naming it, summed over reservations.</summary>
    public CapacityVector UnusedReserved
    {
        get
        {
            var total = CapacityVector.Zero;
            for (var i = 0; i < Reservations.Length; i++)
            {
                // A reservation may hold capacity here more than once; count each reservation once.
                var id = Reservations[i].ReservationId;
                if (Reservations.FindIndex(h => string.Equals(h.ReservationId, id, StringComparison.OrdinalIgnoreCase)) == i)
                {
                    total += UnusedOf(id);
                }
            }

            return total;
        }
    }

    /// <summary>What is left of reservation <paramref name="reservationId"/>'s hold on this host.</summary>
    public CapacityVector UnusedOf(string? reservationId)
    {
        if (reservationId is null)
        {
            return CapacityVector.Zero;
        }

        var held = CapacityVector.Zero;
        foreach (var hold in Reservations)
        {
            if (string.Equals(hold.ReservationId, reservationId, StringComparison.OrdinalIgnoreCase))
            {
                held += hold.Held;
            }
        }

        if (held.IsZero)
        {
            return held;
        }

        var consumed = CapacityVector.Zero;
        foreach (var allocation in Allocations)
        {
            if (string.Equals(allocation.ReservationId, reservationId, StringComparison.OrdinalIgnoreCase))
            {
                consumed += allocation.Demand;
            }
        }

        return CapacityVector.Max(held - consumed, CapacityVector.Zero);
    }

    /// <summary>
    /// The capacity a request naming <paramref name="reservationId"/> (or none) may use on a host of
    /// <paramref name="capacity"/>: what is not allocated, less other reservations' unused holds.
    /// </summary>
    public CapacityVector FreeFor(CapacityVector capacity, string? reservationId) =>
        capacity - Used - UnusedReserved + UnusedOf(reservationId);

    /// <summary>True when the allocations and holds fit the host: nothing is oversubscribed.</summary>
    public bool FitsWithin(CapacityVector capacity) => (capacity - Used - UnusedReserved).IsNonNegative;

    public bool Contains(string allocationId)
    {
        foreach (var allocation in Allocations)
        {
            if (string.Equals(allocation.Id, allocationId, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The record with <paramref name="allocation"/> added (same version: the store assigns the next), or null when it
    /// would not fit a host of <paramref name="capacity"/> or the id is already here.
    /// </summary>
    public HostAllocationRecord? WithAllocation(Allocation allocation, CapacityVector capacity)
    {
        ArgumentNullException.ThrowIfNull(allocation);
        if (Contains(allocation.Id) || !FreeFor(capacity, allocation.ReservationId).Fits(allocation.Demand))
        {
            return null;
        }

        return new HostAllocationRecord(HostName, Version, Allocations.Add(allocation), Reservations);
    }

    /// <summary>The record without allocation <paramref name="allocationId"/> (unchanged when it is not here).</summary>
    public HostAllocationRecord WithoutAllocation(string allocationId)
    {
        var index = Allocations.FindIndex(a => string.Equals(a.Id, allocationId, StringComparison.Ordinal));
        return index < 0 ? this : new HostAllocationRecord(HostName, Version, Allocations.RemoveAt(index), Reservations);
    }

    /// <summary>The record holding <paramref name="hold"/> as well, or null when it does not fit in the free capacity.</summary>
    public HostAllocationRecord? WithReservation(ReservationHold hold, CapacityVector capacity)
    {
        ArgumentNullException.ThrowIfNull(hold);
        if (!hold.Held.IsNonNegative || !FreeFor(capacity, null).Fits(hold.Held))
        {
            return null;
        }

        return new HostAllocationRecord(HostName, Version, Allocations, Reservations.Add(hold));
    }

    /// <summary>The record without reservation <paramref name="reservationId"/>'s holds; its allocations stay.</summary>
    public HostAllocationRecord WithoutReservation(string reservationId) =>
        new(HostName, Version, Allocations, Reservations.RemoveAll(h => string.Equals(h.ReservationId, reservationId, StringComparison.OrdinalIgnoreCase)));

    /// <summary>The same content at version <paramref name="version"/> (what the store returns after a write).</summary>
    public HostAllocationRecord AtVersion(long version) => new(HostName, version, Allocations, Reservations);
}

internal static class ImmutableArrayExtensions
{
    public static int FindIndex<T>(this ImmutableArray<T> array, Func<T, bool> match)
    {
        for (var i = 0; i < array.Length; i++)
        {
            if (match(array[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
