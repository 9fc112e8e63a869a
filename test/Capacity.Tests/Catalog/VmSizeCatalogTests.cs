using Holdfast.Capacity.Catalog;
using Holdfast.Capacity.Inventory;

namespace Holdfast.Capacity.Tests.Catalog;

public sealed class VmSizeCatalogTests
{
    [Theory]
    [InlineData("Standard_D2s_v3", 2, 8192, 16, 4, "standardDSv3Family", 0)]
    [InlineData("Standard_B1s", 1, 1024, 4, 2, "standardBSFamily", 0)]
    [InlineData("Standard_E4s_v5", 4, 32768, 0, 8, "standardESv5Family", 0)]
    [InlineData("Standard_F72s_v2", 72, 147456, 576, 32, "standardFSv2Family", 0)]
    [InlineData("Standard_NC12", 12, 114688, 680, 48, "standardNCFamily", 2)]
    public void Find_KnownSize_HasAzuresNumbers(string name, int vCpus, int memoryMiB, int resourceDiskGiB, int maxDataDisks, string family, int gpus)
    {
        var size = VmSizeCatalog.Find(name);

        Assert.NotNull(size);
        Assert.Equal((name, vCpus, memoryMiB, resourceDiskGiB, maxDataDisks, family, gpus), (size.Name, size.VCpus, size.MemoryMiB, size.ResourceDiskGiB, size.MaxDataDisks, size.Family, size.Gpus));
    }

    [Fact]
    public void Find_OtherCasing_FindsTheSizeWithAzuresName()
    {
        Assert.Equal("Standard_D2s_v3", VmSizeCatalog.Find("standard_d2S_V3")!.Name);
    }

    [Theory]
    [InlineData("Standard_Bogus")]
    [InlineData("")]
    [InlineData(null)]
    public void Find_UnknownSize_ReturnsNull(string? name)
    {
        Assert.Null(VmSizeCatalog.Find(name));
    }

    [Fact]
    public void Sizes_CoverTheIssuesFamilies_WithUniqueNames()
    {
        Assert.InRange(VmSizeCatalog.Sizes.Count, 35, 60);
        Assert.Equal(VmSizeCatalog.Sizes.Count, VmSizeCatalog.Sizes.Select(s => s.Name.ToUpperInvariant()).Distinct().Count());
        foreach (var prefix in new[] { "Standard_B", "Standard_D", "Standard_E", "Standard_F", "Standard_NC" })
        {
            Assert.Contains(VmSizeCatalog.Sizes, s => s.Name.StartsWith(prefix, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Sizes_EachBelongsToAKnownFamily_AndEveryFamilyHasSizes()
    {
        foreach (var size in VmSizeCatalog.Sizes)
        {
            Assert.NotNull(VmSizeCatalog.FindFamily(size.Family));
            Assert.True(size.VCpus > 0 && size.MemoryMiB > 0 && size.MaxDataDisks > 0 && size.ResourceDiskGiB >= 0, size.Name);
        }

        Assert.All(VmSizeCatalog.Families, f => Assert.Contains(VmSizeCatalog.Sizes, s => s.Family == f.Name));
        Assert.All(VmSizeCatalog.Families, f => Assert.EndsWith(" Family vCPUs", f.LocalizedName, StringComparison.Ordinal));
    }

    [Fact]
    public void Sizes_OnlyNcHasGpus()
    {
        Assert.All(VmSizeCatalog.Sizes, s => Assert.Equal(s.Family == "standardNCFamily", s.Gpus > 0));
    }

    [Fact]
    public void Demand_IsVCpusMemoryResourceDiskAndGpus()
    {
        Assert.Equal(new CapacityVector(6, 57344, 340, 1), VmSizeCatalog.Find("Standard_NC6")!.Demand);
        Assert.Equal(new CapacityVector(2, 8192, 0, 0), VmSizeCatalog.Find("Standard_D2s_v5")!.Demand);
    }
}
