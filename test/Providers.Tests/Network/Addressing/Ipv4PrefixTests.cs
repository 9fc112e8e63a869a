using Holdfast.Providers.Network.Addressing;
using Xunit;

namespace Holdfast.Providers.Tests.Network.Addressing;

public sealed class Ipv4PrefixTests
{
    [Theory]
    [InlineData("10.0.0.0/16", "10.0.0.0", 16)]
    [InlineData("192.168.1.128/25", "192.168.1.128", 25)]
    [InlineData("0.0.0.0/0", "0.0.0.0", 0)]
    [InlineData("10.1.2.3/32", "10.1.2.3", 32)]
    public void TryParse_CanonicalCidr_ParsesBaseAndLength(string text, string expectedBase, int expectedLength)
    {
        Assert.True(Ipv4Prefix.TryParse(text, out var prefix));
        Assert.Equal(expectedBase, Ipv4Prefix.Format(prefix.Base));
        Assert.Equal(expectedLength, prefix.Length);
        Assert.Equal(text, prefix.ToString());
    }

    [Theory]
    [InlineData("10.0.0.1/16")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.0")]
    [InlineData("10.0.0.0/")]
    [InlineData("10.0.0.0/016")]
    [InlineData("10.0.0.0/+8")]
    [InlineData("10.0/16")]
    [InlineData("010.0.0.0/8")]
    [InlineData("fd00::/64")]
    [InlineData("")]
    [InlineData(null)]
    public void TryParse_NotACanonicalIpv4Cidr_ReturnsFalse(string? text)
    {
        Assert.False(Ipv4Prefix.TryParse(text, out _));
    }

    [Theory]
    [InlineData("10.0.0.0/24", "10.0.0.0", true)]
    [InlineData("10.0.0.0/24", "10.0.0.1", true)]
    [InlineData("10.0.0.0/24", "10.0.0.3", true)]
    [InlineData("10.0.0.0/24", "10.0.0.4", false)]
    [InlineData("10.0.0.0/24", "10.0.0.254", false)]
    [InlineData("10.0.0.0/24", "10.0.0.255", true)]
    [InlineData("192.168.0.128/27", "192.168.0.131", true)]
    [InlineData("192.168.0.128/27", "192.168.0.132", false)]
    [InlineData("192.168.0.128/27", "192.168.0.159", true)]
    [InlineData("192.168.0.128/27", "192.168.0.160", false)]
    public void IsReserved_FirstFourAndLast_AreReserved(string cidr, string address, bool reserved)
    {
        Assert.True(Ipv4Prefix.TryParse(cidr, out var prefix));
        Assert.True(Ipv4Prefix.TryParseAddress(address, out var a));
        Assert.Equal(reserved, prefix.IsReserved(a));
    }

    [Theory]
    [InlineData("10.0.0.0/29", 3, "10.0.0.4", "10.0.0.6")]
    [InlineData("10.0.0.0/28", 11, "10.0.0.4", "10.0.0.14")]
    [InlineData("10.0.0.0/24", 251, "10.0.0.4", "10.0.0.254")]
    public void Usable_ExcludesReserved_LowestFirst(string cidr, int count, string first, string last)
    {
        Assert.True(Ipv4Prefix.TryParse(cidr, out var prefix));
        var usable = prefix.Usable().Select(Ipv4Prefix.Format).ToList();
        Assert.Equal(count, usable.Count);
        Assert.Equal(count, prefix.UsableCount);
        Assert.Equal(first, usable[0]);
        Assert.Equal(last, usable[^1]);
    }

    [Theory]
    [InlineData("10.0.0.0/30")]
    [InlineData("10.0.0.0/32")]
    public void Usable_SmallerThanSlash29_IsEmpty(string cidr)
    {
        Assert.True(Ipv4Prefix.TryParse(cidr, out var prefix));
        Assert.Empty(prefix.Usable());
        Assert.Equal(0, prefix.UsableCount);
    }

    [Fact]
    public void LowestFree_SkipsTakenAndIneligible()
    {
        Assert.True(Ipv4Prefix.TryParse("10.0.0.0/29", out var prefix));
        Assert.True(Ipv4Prefix.TryParseAddress("10.0.0.4", out var four));
        Assert.True(Ipv4Prefix.TryParseAddress("10.0.0.5", out var five));
        Assert.True(Ipv4Prefix.TryParseAddress("10.0.0.6", out var six));

        Assert.Equal(four, prefix.LowestFree(new HashSet<uint>()));
        Assert.Equal(six, prefix.LowestFree(new HashSet<uint> { four }, a => a != five));
        Assert.Null(prefix.LowestFree(new HashSet<uint> { four, five, six }));
    }

    [Theory]
    [InlineData("10.0.0.0/16", "10.0.1.0/24", true)]
    [InlineData("10.0.1.0/24", "10.0.0.0/16", true)]
    [InlineData("10.0.0.0/24", "10.0.1.0/24", false)]
    [InlineData("10.0.0.0/25", "10.0.0.128/25", false)]
    [InlineData("10.0.0.0/24", "10.0.0.128/25", true)]
    public void Overlaps_IsSymmetric(string a, string b, bool overlaps)
    {
        Assert.True(Ipv4Prefix.TryParse(a, out var left));
        Assert.True(Ipv4Prefix.TryParse(b, out var right));
        Assert.Equal(overlaps, left.Overlaps(right));
        Assert.Equal(overlaps, right.Overlaps(left));
    }

    [Fact]
    public void Contains_LastAddressOfTopRange_DoesNotOverflow()
    {
        Assert.True(Ipv4Prefix.TryParse("255.255.255.0/24", out var prefix));
        Assert.True(Ipv4Prefix.TryParseAddress("255.255.255.255", out var last));
        Assert.True(prefix.Contains(last));
        Assert.True(prefix.IsReserved(last));
        Assert.Equal(251, prefix.Usable().Count());
    }
}
