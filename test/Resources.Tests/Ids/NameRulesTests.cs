using Holdfast.Resources.Ids;
using Xunit;

namespace Holdfast.Resources.Tests.Ids;

public sealed class NameRulesTests
{
    [Fact]
    public void Validate_ResourceGroupOf90Characters_IsValid()
    {
        Assert.Null(NameRule.ResourceGroup.Validate(new string('a', 90)));
    }

    [Fact]
    public void Validate_ResourceGroupOf91Characters_ReportsLength()
    {
        var problem = NameRule.ResourceGroup.Validate(new string('a', 91));

        Assert.NotNull(problem);
        Assert.Contains("1 to 90", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ResourceGroupEmpty_ReportsLength()
    {
        Assert.NotNull(NameRule.ResourceGroup.Validate(string.Empty));
    }

    [Fact]
    public void Validate_ResourceGroupEndingWithPeriod_ReportsEnding()
    {
        var problem = NameRule.ResourceGroup.Validate("my-group.");

        Assert.NotNull(problem);
        Assert.Contains("cannot end with '.'", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("my(group)")]
    [InlineData("(group)")]
    [InlineData("a.b_c-d")]
    [InlineData("Grüße")]
    [InlineData("グループ")]
    [InlineData("_leading-underscore")]
    public void Validate_ResourceGroupAllowedCharacters_IsValid(string name)
    {
        Assert.Null(NameRule.ResourceGroup.Validate(name));
    }

    [Theory]
    [InlineData("my group")]
    [InlineData("my/group")]
    [InlineData("my#group")]
    [InlineData("a*b")]
    public void Validate_ResourceGroupForbiddenCharacter_NamesTheCharacter(string name)
    {
        var problem = NameRule.ResourceGroup.Validate(name);

        Assert.NotNull(problem);
        Assert.Contains("is not allowed", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vnet1")]
    [InlineData("my-vnet.v2_a")]
    [InlineData("1abc")]
    public void Validate_DefaultRuleValidName_IsValid(string name)
    {
        Assert.Null(NameRule.Default.Validate(name));
    }

    [Fact]
    public void Validate_DefaultRuleOf80Characters_IsValid()
    {
        Assert.Null(NameRule.Default.Validate(new string('a', 80)));
    }

    [Fact]
    public void Validate_DefaultRuleOf81Characters_ReportsLength()
    {
        Assert.Contains("1 to 80", NameRule.Default.Validate(new string('a', 81)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vnet.", "cannot end with '.'")]
    [InlineData("vnet-", "cannot end with '-'")]
    [InlineData("-vnet", "cannot start with '-'")]
    [InlineData(".vnet", "cannot start with '.'")]
    [InlineData("_vnet", "cannot start with '_'")]
    [InlineData("my(vnet)", "'(' is not allowed")]
    [InlineData("grüße", "'ü' is not allowed")]
    [InlineData("", "1 to 80")]
    public void Validate_DefaultRuleBadName_SaysWhy(string name, string expected)
    {
        var problem = NameRule.Default.Validate(name);

        Assert.NotNull(problem);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Null_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => NameRule.Default.Validate(null!));
    }
}
