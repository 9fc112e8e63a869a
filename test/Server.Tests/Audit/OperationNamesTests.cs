using Holdfast.Server.Audit;

namespace Holdfast.Server.Tests.Audit;

public sealed class OperationNamesTests
{
    [Theory]
    [InlineData("PUT", "/subscriptions/s/resourcegroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/write", "/subscriptions/s/resourcegroups/rg")]
    [InlineData("DELETE", "/subscriptions/s/resourcegroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/delete", "/subscriptions/s/resourcegroups/rg")]
    [InlineData("GET", "/subscriptions/s", "Microsoft.Resources/subscriptions/read", "/subscriptions/s")]
    [InlineData("PUT", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "Microsoft.Network/virtualNetworks/write", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v")]
    [InlineData("PUT", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a", "Microsoft.Network/virtualNetworks/subnets/write", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a")]
    [InlineData("POST", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/start", "Microsoft.Compute/virtualMachines/start/action", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm")]
    [InlineData("POST", "/subscriptions/s/providers/Microsoft.Network/register", "Microsoft.Network/register/action", "/subscriptions/s/providers/Microsoft.Network")]
    [InlineData("PUT", "/providers/Holdfast.Identity/servicePrincipals/p", "Holdfast.Identity/servicePrincipals/write", "/providers/Holdfast.Identity/servicePrincipals/p")]
    public void Derive_RequestPath_GivesArmActionAndScope(string method, string path, string action, string scope)
    {
        Assert.Equal((action, scope), OperationNames.Derive(method, path));
    }
}
