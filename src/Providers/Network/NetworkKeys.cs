using Holdfast.Providers.Framework;
using Holdfast.Resources.Ids;

namespace Holdfast.Providers.Network;

/// <summary>
/// Microsoft.Network's own store keys beside the ARM documents. One key per private address taken from a subnet:
/// <c>/network/ipam/{subnet id, lower-cased, without the leading slash}/{address}</c> → the owning IP configuration's id.
/// A NIC takes an address with a compare that the key is absent, so two NICs never hold the same one. And one key per
/// reference to a security group: <c>/network/refs/{referenced id}/{referrer id}</c>, so a group in use is not deleted.
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

    public const string ReferencesPrefix = "/network/refs/";

    /// <summary>Every resource that references <paramref name="referenced"/> (a subnet or NIC naming a security group) has a key under this prefix.</summary>
    public static string ReferencesTo(ResourceId referenced)
    {
        ArgumentNullException.ThrowIfNull(referenced);
        return ReferencesPrefix + referenced.ToString().TrimStart('/').ToLowerInvariant() + "/";
    }

    /// <summary><c>/network/refs/{referenced}/{referrer}</c> → the referrer's id.</summary>
    public static string Reference(ResourceId referenced, ResourceId referrer)
    {
        ArgumentNullException.ThrowIfNull(referrer);
        return ReferencesTo(referenced) + referrer.ToString().TrimStart('/').ToLowerInvariant();
    }

    /// <summary>The child-subnet keys of a virtual network: <c>{vnet key}/subnets/</c>.</summary>
    public static string SubnetsOf(ResourceId virtualNetworkId) => ResourceKeys.Resource(virtualNetworkId) + "/subnets/";
}
