using System.Text;

namespace Holdfast.State.Etcd;

/// <summary>Keys are UTF-8 bytes on etcd, so etcd's byte order is the contract's ordinal (code point) order.</summary>
internal static class EtcdKeys
{
    /// <summary>etcd's "from this key to the end of the keyspace" range end, and the smallest key.</summary>
    private static readonly byte[] Zero = [0];

    public static byte[] Encode(string key) => Encoding.UTF8.GetBytes(key);

    public static string Decode(byte[]? key) => key is null ? "" : Encoding.UTF8.GetString(key);

    /// <summary>
    /// The range [key, rangeEnd) holding every key under <paramref name="prefix"/>, as clientv3's GetPrefixRangeEnd:
    /// the prefix with its last byte below 0xFF incremented and the rest dropped. The empty prefix is every key.
    /// </summary>
    public static (byte[] Key, byte[] RangeEnd) Prefix(string prefix)
    {
        if (prefix.Length == 0)
        {
            return (Zero, Zero);
        }

        byte[] key = Encode(prefix);
        for (int i = key.Length - 1; i >= 0; i--)
        {
            if (key[i] < 0xFF)
            {
                byte[] end = key[..(i + 1)];
                end[i]++;
                return (key, end);
            }
        }

        return (key, Zero);
    }

    /// <summary>The first key strictly after <paramref name="key"/> in byte order.</summary>
    public static byte[] After(string key) => [.. Encode(key), 0];
}
