using Holdfast.Server.Agents;

namespace Holdfast.Server.Tests.Agents;

public sealed class AgentCertificateLifetimeTests
{
    [Theory]
    [InlineData("30", 30 * 86400)]
    [InlineData("30d", 30 * 86400)]
    [InlineData("12h", 12 * 3600)]
    [InlineData("15m", 15 * 60)]
    [InlineData("90s", 90)]
    [InlineData("1.5d", 36 * 3600)]
    [InlineData("1.00:00:00", 86400)]
    [InlineData("00:00:20", 20)]
    [InlineData("365d", 365 * 86400)]
    public void TryParse_ValidValue_IsThatManySeconds(string text, long seconds)
    {
        Assert.True(AgentCertificateLifetime.TryParse(text, out var validity, out var error), error);

        Assert.Equal(TimeSpan.FromSeconds(seconds), validity);
    }

    [Theory]
    [InlineData("")]
    [InlineData("soon")]
    [InlineData("-1")]
    [InlineData("0")]
    [InlineData("9s")]
    [InlineData("366d")]
    [InlineData("1e400d")]
    [InlineData("30x")]
    public void TryParse_BadOrOutOfBoundsValue_IsRefusedNamingTheFlag(string text)
    {
        Assert.False(AgentCertificateLifetime.TryParse(text, out _, out var error));

        Assert.Contains("--agent-certificate-validity", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ValidityOutOfBounds_IsAnError()
    {
        var options = new HoldfastServerOptions { DataDirectory = "unused", AgentCertificateValidity = TimeSpan.FromSeconds(1) };

        Assert.Contains(AgentTiming.Validate(options), e => e.Contains("--agent-certificate-validity", StringComparison.Ordinal));
        Assert.DoesNotContain(AgentTiming.Validate(options with { AgentCertificateValidity = TimeSpan.FromDays(30) }), e => e.Contains("--agent-certificate-validity", StringComparison.Ordinal));
    }
}
