using Holdfast.Providers.Framework;
using Holdfast.Resources.Ids;

namespace Holdfast.Providers.Network;

/// <summary>
/// Microsoft.Network's own store keys beside the ARM documents. One key per private address taken from a subnet:
/// <c>/network/ipam/{subnet id, lower-cased, without the leading slash}/{address}</c> → the owning IP configuration's id.
/// A NIC takes an address with a compare that the key is absent, so two NICs never hold the same one.
/// </summary>
public static class NetworkKeys
{
    public const string IpamPrefix = "/network/ipam/";

    /// <summary>Every address taken in <paramref name="subnetId"/> is a key under this prefix.</summary>
    public static string AddressesOf(ResourceId subnetId)
    {
        ArgumentNullException.ThrowIfNull(subnetId);
        return IpamPrefix + subnetId.ToString().TrimStart('/').ToLowerInvariant() + "/";
    }

    public static string Address(ResourceId subnetId, string address) => AddressesOf(subnetId) + address.ToLowerInvariant();

    /// <summary>The child-subnet keys of a virtual network: <c>{vnet key}/subnets/</c>.</summary>
    public static string SubnetsOf(ResourceId virtualNetworkId) => ResourceKeys.Resource(virtualNetworkId) + "/subnets/";
}
