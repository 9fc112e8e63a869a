using System.Globalization;

namespace Holdfast.Resources.Versions;

/// <summary>
/// An ARM api-version: <c>yyyy-MM-dd</c> with an optional suffix (<c>-preview</c>, <c>-hybrid</c>, <c>-privatepreview</c>).
/// Ordering is by date, then a stable version before its previews, so lists can be sorted newest first.
/// </summary>
public readonly record struct ApiVersion(DateOnly Date, string Suffix) : IComparable<ApiVersion>
{
    private static readonly System.Buffers.SearchValues<char> SuffixCharacters =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.");

    public static bool TryParse(string? text, out ApiVersion version)
    {
        version = default;
        if (text is null || text.Length < 10)
        {
            return false;
        }

        if (!DateOnly.TryParseExact(text.AsSpan(0, 10), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return false;
        }

        var suffix = text[10..];
        if (suffix.Length > 0 && (suffix[0] != '-' || suffix.Length == 1 || suffix.AsSpan(1).ContainsAnyExcept(SuffixCharacters)))
        {
            return false;
        }

        version = new ApiVersion(date, suffix);
        return true;
    }

    public bool IsPreview => Suffix.Contains("preview", StringComparison.OrdinalIgnoreCase);

    public int CompareTo(ApiVersion other)
    {
        var byDate = Date.CompareTo(other.Date);
        if (byDate != 0)
        {
            return byDate;
        }

        // A stable version sorts after (is newer than) its suffixed siblings.
        if (Suffix.Length == 0 || other.Suffix.Length == 0)
        {
            return other.Suffix.Length.CompareTo(Suffix.Length) switch { < 0 => -1, > 0 => 1, _ => 0 };
        }

        return string.CompareOrdinal(Suffix, other.Suffix);
    }

    public override string ToString() => Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + Suffix;

    public static bool operator <(ApiVersion left, ApiVersion right) => left.CompareTo(right) < 0;

    public static bool operator >(ApiVersion left, ApiVersion right) => left.CompareTo(right) > 0;

    public static bool operator <=(ApiVersion left, ApiVersion right) => left.CompareTo(right) <= 0;

    public static bool operator >=(ApiVersion left, ApiVersion right) => left.CompareTo(right) >= 0;
}
