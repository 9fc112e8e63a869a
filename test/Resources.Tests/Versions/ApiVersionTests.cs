using Holdfast.Resources.Versions;
using Xunit;

namespace Holdfast.Resources.Tests.Versions;

public sealed class ApiVersionTests
{
    [Fact]
    public void TryParse_StableVersion_ReadsDateWithoutSuffix()
    {
        Assert.True(ApiVersion.TryParse("2024-05-01", out var version));

        Assert.Equal(new DateOnly(2024, 5, 1), version.Date);
        Assert.Equal(string.Empty, version.Suffix);
        Assert.False(version.IsPreview);
        Assert.Equal("2024-05-01", version.ToString());
    }

    [Theory]
    [InlineData("2024-05-01-preview", "-preview", true)]
    [InlineData("2024-05-01-privatepreview", "-privatepreview", true)]
    [InlineData("2020-09-01-hybrid", "-hybrid", false)]
    [InlineData("2024-05-01-Preview", "-Preview", true)]
    public void TryParse_SuffixedVersion_KeepsSuffix(string text, string suffix, bool isPreview)
    {
        Assert.True(ApiVersion.TryParse(text, out var version));

        Assert.Equal(suffix, version.Suffix);
        Assert.Equal(isPreview, version.IsPreview);
        Assert.Equal(text, version.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("latest")]
    [InlineData("2024-5-1")]
    [InlineData("2024-13-01")]
    [InlineData("2024-02-30")]
    [InlineData("24-05-01ab")]
    [InlineData("2024/05/01")]
    [InlineData("2024-05-01preview")]
    [InlineData("2024-05-01-")]
    [InlineData("2024-05-01-pre view")]
    [InlineData("2024-05-01-preview!")]
    [InlineData(" 2024-05-01")]
    [InlineData("2024-05-01 ")]
    public void TryParse_Junk_Fails(string? text)
    {
        Assert.False(ApiVersion.TryParse(text, out _));
    }

    [Fact]
    public void CompareTo_StableAndItsPreview_StableIsNewer()
    {
        var stable = Parse("2024-05-01");
        var preview = Parse("2024-05-01-preview");

        Assert.True(stable > preview);
        Assert.True(preview < stable);
        Assert.True(stable.CompareTo(preview) > 0);
        Assert.True(preview.CompareTo(stable) < 0);
    }

    [Fact]
    public void CompareTo_PreviewOfLaterDate_IsNewerThanEarlierStable()
    {
        Assert.True(Parse("2024-06-01-preview") > Parse("2024-05-01"));
    }

    [Fact]
    public void CompareTo_SameVersion_IsZero()
    {
        Assert.Equal(0, Parse("2024-05-01").CompareTo(Parse("2024-05-01")));
        Assert.Equal(0, Parse("2024-05-01-preview").CompareTo(Parse("2024-05-01-preview")));
        Assert.True(Parse("2024-05-01") >= Parse("2024-05-01"));
        Assert.True(Parse("2024-05-01") <= Parse("2024-05-01"));
    }

    [Fact]
    public void OrderDescending_MixedVersions_SortsNewestFirst()
    {
        string[] versions = ["2023-01-01", "2024-05-01-preview", "2022-12-01", "2024-05-01", "2023-01-01-preview", "2024-01-01"];

        var sorted = versions.Select(Parse).OrderDescending().Select(v => v.ToString()).ToArray();

        Assert.Equal(
            ["2024-05-01", "2024-05-01-preview", "2024-01-01", "2023-01-01", "2023-01-01-preview", "2022-12-01"],
            sorted);
    }

    private static ApiVersion Parse(string text) =>
        ApiVersion.TryParse(text, out var version) ? version : throw new FormatException(text);
}
