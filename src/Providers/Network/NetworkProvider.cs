using Holdfast.Providers.Framework;
using Holdfast.Providers.Network.NetworkInterfaces;
using Holdfast.Providers.Network.SecurityGroups;
using Holdfast.Providers.Network.VirtualNetworks;
using Holdfast.State;

namespace Holdfast.Providers.Network;

/// <summary>Microsoft.Network: virtual networks and their subnets, network interfaces with private addresses, network security groups.</summary>
public static class NetworkProvider
{
    public const string Namespace = "Microsoft.Network";

    /// <summary>
    /// Public Azure's Microsoft.Network versions from 2017 on; 2018-11-01 is what Azure Stack Hub's 2020-09-01-hybrid
    /// profile sends, 2017-10-01 the 2019-03-01-hybrid one and 2025-03-01 @azure/arm-network 35.0.0's.
    /// </summary>
    public static readonly IReadOnlyList<string> ApiVersions =
    [
        "2025-03-01", "2025-01-01", "2024-07-01",
        "2024-05-01", "2024-03-01", "2024-01-01", "2023-11-01", "2023-09-01", "2023-06-01", "2023-05-01", "2023-04-01",
        "2023-02-01", "2022-11-01", "2022-09-01", "2022-07-01", "2022-05-01", "2022-01-01", "2021-08-01", "2021-05-01",
        "2021-03-01", "2021-02-01", "2020-11-01", "2020-08-01", "2020-07-01", "2020-06-01", "2020-05-01", "2020-04-01",
        "2020-03-01", "2019-12-01", "2019-11-01", "2019-09-01", "2019-08-01", "2019-07-01", "2019-06-01", "2019-04-01",
        "2019-02-01", "2018-12-01", "2018-11-01", "2018-10-01", "2018-08-01", "2018-07-01", "2018-06-01", "2018-04-01",
        "2018-02-01", "2018-01-01", "2017-11-01", "2017-10-01", "2017-09-01", "2017-08-01", "2017-06-01", "2017-03-01",
    ];

    /// <param name="store">The server's store, for the reconcile-time checks (a subnet's delete); null in unit tests.</param>
    /// <param name="timeProvider">The clock of in-flight address holds; the system clock by default.</param>
    public static ResourceProviderDefinition Create(IStateStore? store = null, TimeProvider? timeProvider = null) => new(Namespace,
    [
        new ResourceTypeDefinition(Namespace, "virtualNetworks", ApiVersions, new VirtualNetworkHandler()),
        new ResourceTypeDefinition(Namespace, "virtualNetworks/subnets", ApiVersions, new SubnetHandler(store)) { RequiresLocation = false },
        new ResourceTypeDefinition(Namespace, "networkInterfaces", ApiVersions, new NetworkInterfaceHandler(timeProvider ?? TimeProvider.System)),
        new ResourceTypeDefinition(Namespace, "networkSecurityGroups", ApiVersions, new NetworkSecurityGroupHandler(store)),
    ]);
}
