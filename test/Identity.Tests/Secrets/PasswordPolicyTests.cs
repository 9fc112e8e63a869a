using Holdfast.Identity.Secrets;
using Xunit;

namespace Holdfast.Identity.Tests.Secrets;

public sealed class PasswordPolicyTests
{
    [Theory]
    [InlineData("Correct-Horse-9")]
    [InlineData("abcDEF123")]
    [InlineData("abc def 12")]
    public void Validate_GoodPassword_HasNoProblems(string password)
    {
        Assert.Empty(PasswordPolicy.Validate(password, "alice"));
    }

    [Theory]
    [InlineData("Ab1!")]
    [InlineData("")]
    public void Validate_TooShort_SaysSo(string password)
    {
        Assert.Contains(PasswordPolicy.Validate(password, "alice"), p => p.Contains("8 to 256", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_TooLong_SaysSo()
    {
        Assert.Contains(PasswordPolicy.Validate("Aa1" + new string('x', 300), "alice"), p => p.Contains("8 to 256", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("onlylowercase")]
    [InlineData("lowerand123")]
    [InlineData("UPPER-ONLY-")]
    public void Validate_FewerThanThreeCharacterClasses_SaysSo(string password)
    {
        Assert.Contains(PasswordPolicy.Validate(password, "alice"), p => p.Contains("three of", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ContainsUserName_SaysSo()
    {
        Assert.Contains(PasswordPolicy.Validate("Alice-2024!", "alice"), p => p.Contains("user name", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SeveralProblems_ReportsEveryOne()
    {
        Assert.Equal(2, PasswordPolicy.Validate("abc", "zed").Count);
    }
}
