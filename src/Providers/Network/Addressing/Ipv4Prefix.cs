using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Holdfast.Providers.Network.Addressing;

/// <summary>
/// An IPv4 CIDR block as Azure's virtual networks use it: the base address with host bits zero and a prefix length.
/// A subnet's usable range excludes what Azure reserves in every subnet: the first four addresses (network address,
/// default gateway, two for Azure DNS) and the last (broadcast).
/// </summary>
internal readonly record struct Ipv4Prefix(uint Base, int Length)
{
    /// <summary>Azure reserves the first four addresses and the last one of every subnet.</summary>
    public const int ReservedAtStart = 4;

    /// <summary>The smallest subnet Azure allows is a /29 (three usable addresses).</summary>
    public const int MaxSubnetPrefixLength = 29;

    public ulong Size => 1UL << (32 - Length);

    public uint Last => (uint)(Base + Size - 1);

    /// <summary>Parses canonical <c>a.b.c.d/n</c> with host bits zero; false for IPv6, legacy forms, or host bits set.</summary>
    public static bool TryParse(string? text, out Ipv4Prefix prefix)
    {
        prefix = default;
        if (text is null)
        {
            return false;
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0
            || !TryParseAddress(text[..slash], out var address)
            || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var length)
            || length > 32
            || text[(slash + 1)..] != length.ToString(CultureInfo.InvariantCulture))
        {
            return false;
        }

        var mask = Mask(length);
        if ((address & ~mask) != 0)
        {
            return false;
        }

        prefix = new Ipv4Prefix(address, length);
        return true;
    }

    /// <summary>Parses a canonical dotted-decimal IPv4 address (no legacy forms such as <c>10.1</c> or octal).</summary>
    public static bool TryParseAddress(string? text, out uint address)
    {
        address = 0;
        if (text is null
            || !IPAddress.TryParse(text, out var parsed)
            || parsed.AddressFamily != AddressFamily.InterNetwork
            || !string.Equals(parsed.ToString(), text, StringComparison.Ordinal))
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[4];
        parsed.TryWriteBytes(bytes, out _);
        address = (uint)(bytes[0] << 24 | bytes[1] << 16 | bytes[2] << 8 | bytes[3]);
        return true;
    }

    public static string Format(uint address) => string.Create(CultureInfo.InvariantCulture, $"{address >> 24}.{(address >> 16) & 0xff}.{(address >> 8) & 0xff}.{address & 0xff}");

    public bool Contains(uint address) => address >= Base && address <= Last;

    public bool Contains(Ipv4Prefix inner) => Length <= inner.Length && Contains(inner.Base);

    public bool Overlaps(Ipv4Prefix other) => Contains(other) || other.Contains(this);

    /// <summary>True when Azure reserves <paramref name="address"/> in this subnet (first four, last one).</summary>
    public bool IsReserved(uint address) => Contains(address) && (address - Base < ReservedAtStart || address == Last);

    /// <summary>Addresses a NIC may take, lowest first (none for a subnet smaller than a /29).</summary>
    public IEnumerable<uint> Usable()
    {
        if (Size <= ReservedAtStart + 1)
        {
            yield break;
        }

        for (var address = Base + ReservedAtStart; address < Last; address++)
        {
            yield return address;
        }
    }

    public int UsableCount => Size <= ReservedAtStart + 1 ? 0 : (int)Math.Min(int.MaxValue, Size - ReservedAtStart - 1);

    /// <summary>The lowest usable address not in <paramref name="taken"/> and accepted by <paramref name="eligible"/>, or null.</summary>
    public uint? LowestFree(IReadOnlySet<uint> taken, Func<uint, bool>? eligible = null)
    {
        foreach (var address in Usable())
        {
            if (!taken.Contains(address) && (eligible is null || eligible(address)))
            {
                return address;
            }
        }

        return null;
    }

    public override string ToString() => Format(Base) + "/" + Length.ToString(CultureInfo.InvariantCulture);

    private static uint Mask(int length) => length == 0 ? 0 : uint.MaxValue << (32 - length);
}
