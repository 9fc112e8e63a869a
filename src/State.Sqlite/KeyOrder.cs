using System.Text;

namespace Holdfast.State.Sqlite;

/// <summary>
/// Key ordering as SQLite's BINARY collation sees TEXT stored as UTF-8: byte-wise, which is Unicode code point order.
/// It differs from <see cref="string.CompareOrdinal(string, string)"/> only for characters above U+FFFF, whose
/// UTF-16 surrogates sort below U+E000..U+FFFF.
/// </summary>
internal static class KeyOrder
{
    private static readonly byte[] AllKeysEnd = [0xFF];

    public static int Compare(string left, string right)
    {
        int common = left.AsSpan().CommonPrefixLength(right);
        if (common == left.Length || common == right.Length)
        {
            return left.Length.CompareTo(right.Length);
        }

        return CodePointRank(left[common]).CompareTo(CodePointRank(right[common]));
    }

    /// <summary>
    /// The exclusive upper bound of the keys starting with <paramref name="prefix"/>, as UTF-8 bytes to bind as a BLOB
    /// and CAST to TEXT (as etcd's getPrefix): the prefix with its last byte incremented. UTF-8 never contains 0xFF,
    /// so the increment cannot carry, and 0xFF alone bounds every key for the empty prefix.
    /// </summary>
    public static byte[] PrefixEnd(string prefix)
    {
        if (prefix.Length == 0)
        {
            return AllKeysEnd;
        }

        byte[] end = Encoding.UTF8.GetBytes(prefix);
        end[^1]++;
        return end;
    }

    private static int CodePointRank(char c) => c switch
    {
        < '\uD800' => c,
        >= '\uE000' => c - 0x800,
        _ => c + 0x2000,
    };
}
