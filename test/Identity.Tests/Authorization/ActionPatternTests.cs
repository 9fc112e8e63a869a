using Holdfast.Identity.Authorization;
using Xunit;

namespace Holdfast.Identity.Tests.Authorization;

public sealed class ActionPatternTests
{
    [Theory]
    [InlineData("*", "Microsoft.Network/virtualNetworks/write", true)]
    [InlineData("*/read", "Microsoft.Network/virtualNetworks/read", true)]
    [InlineData("*/read", "Microsoft.Network/virtualNetworks/write", false)]
    [InlineData("*/read", "Microsoft.Network/virtualNetworks/readiness/action", false)]
    [InlineData("Microsoft.Network/*", "Microsoft.Network/virtualNetworks/subnets/join/action", true)]
    [InlineData("Microsoft.Network/*", "Microsoft.NetworkFunction/things/read", false)]
    [InlineData("Microsoft.Authorization/*/Write", "microsoft.authorization/roleAssignments/write", true)]
    [InlineData("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/roleAssignments/write", false)]
    [InlineData("Microsoft.Compute/virtualMachines/start/action", "Microsoft.Compute/virtualMachines/start/action", true)]
    [InlineData("Microsoft.Compute/virtualMachines/start/action", "Microsoft.Compute/virtualMachines/start/actionx", false)]
    [InlineData("Microsoft.*/*/read", "Microsoft.Compute/disks/read", true)]
    public void Matches_AzurePatterns_CaseInsensitiveWithGreedyWildcard(string pattern, string action, bool expected)
    {
        Assert.Equal(expected, ActionPattern.Matches(pattern, action));
    }

    [Theory]
    [InlineData("/", "/subscriptions/s", true)]
    [InlineData("/subscriptions/s", "/subscriptions/S/resourceGroups/rg", true)]
    [InlineData("/subscriptions/s/resourceGroups/rg1", "/subscriptions/s/resourceGroups/rg10", false)]
    [InlineData("/subscriptions/s/resourceGroups/rg1", "/subscriptions/s/resourceGroups/rg1", true)]
    [InlineData("/subscriptions/s/resourceGroups/rg1/", "/subscriptions/s/resourceGroups/rg1/providers/a/b/c", true)]
    [InlineData("/subscriptions/s", "/providers/Holdfast.Fabric/hosts/h", false)]
    public void Scopes_Contains_OnWholeSegments(string outer, string inner, bool expected)
    {
        Assert.Equal(expected, Scopes.Contains(outer, inner));
    }
}
