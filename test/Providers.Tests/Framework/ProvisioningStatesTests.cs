using Holdfast.Providers.Framework;
using Xunit;

namespace Holdfast.Providers.Tests.Framework;

public sealed class ProvisioningStatesTests
{
    [Theory]
    [InlineData(ProvisioningStates.Succeeded)]
    [InlineData(ProvisioningStates.Failed)]
    [InlineData(ProvisioningStates.Canceled)]
    [InlineData("succeeded")]
    [InlineData("FAILED")]
    [InlineData(null)]
    public void IsTerminal_TerminalState_ReturnsTrue(string? state)
    {
        Assert.True(ProvisioningStates.IsTerminal(state));
    }

    [Theory]
    [InlineData(ProvisioningStates.Accepted)]
    [InlineData(ProvisioningStates.Creating)]
    [InlineData(ProvisioningStates.Updating)]
    [InlineData(ProvisioningStates.Deleting)]
    [InlineData("deleting")]
    public void IsTerminal_InFlightState_ReturnsFalse(string state)
    {
        Assert.False(ProvisioningStates.IsTerminal(state));
    }
}
