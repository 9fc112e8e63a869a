using Holdfast.Server.Agents;

namespace Holdfast.Server.Tests.Agents;

public sealed class AgentTimingTests
{
    [Fact]
    public void Validate_Defaults_AreConsistent()
    {
        Assert.Empty(AgentTiming.Validate(new HoldfastServerOptions { DataDirectory = "d" }));
    }

    [Theory]
    [InlineData(5, 15, 20, "--failed-after-seconds")]
    [InlineData(5, 5, 60, "--unreachable-after-seconds")]
    [InlineData(0, 15, 60, "--heartbeat-seconds")]
    public void Validate_InconsistentTiming_NamesTheFlag(int heartbeat, int unreachable, int failed, string flag)
    {
        var errors = AgentTiming.Validate(new HoldfastServerOptions { DataDirectory = "d", HeartbeatSeconds = heartbeat, UnreachableAfterSeconds = unreachable, FailedAfterSeconds = failed });

        Assert.Contains(errors, e => e.StartsWith(flag, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_AgentPortOutOfRange_IsRefused()
    {
        Assert.Contains(AgentTiming.Validate(new HoldfastServerOptions { DataDirectory = "d", AgentPort = 70000 }), e => e.StartsWith("--agent-port", StringComparison.Ordinal));
    }
}
