namespace Holdfast.Identity.Authorization;

/// <summary>
/// Azure RBAC action patterns: case-insensitive, where <c>*</c> matches any run of characters, '/' included
/// (<c>*/read</c> matches every read; <c>Microsoft.Compute/*</c> every Compute action; <c>*</c> everything).
/// </summary>
public static class ActionPattern
{
    public static bool Matches(string pattern, string action)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(action);
        return Match(pattern.AsSpan(), action.AsSpan());
    }

    private static bool Match(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        // Iterative glob match with one backtrack point per '*', linear in practice for RBAC patterns.
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && char.ToUpperInvariant(pattern[p]) == char.ToUpperInvariant(text[t]))
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
