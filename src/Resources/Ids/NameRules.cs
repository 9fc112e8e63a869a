using System.Globalization;

namespace Holdfast.Resources.Ids;

/// <summary>
/// A resource type's name rule as ARM documents them (learn.microsoft.com "resource-name-rules"): a length range,
/// the allowed characters, and what the name may not start or end with. <see cref="Validate"/> returns a sentence
/// for the error message, or null when the name is valid.
/// </summary>
public sealed record NameRule(int MinLength, int MaxLength, string AllowedDescription, Func<char, bool> IsAllowed, string? ForbiddenEndings = null, string? ForbiddenStarts = null)
{
    /// <summary>Resource groups: 1–90 of letters, digits, '-', '_', '.', '(' and ')'; not ending in '.'.</summary>
    public static readonly NameRule ResourceGroup = new(1, 90, "letters, digits, '-', '.', '(', ')' or '_'", c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' or '(' or ')', ForbiddenEndings: ".");

    /// <summary>The common default for tracked resources: 1–80 of letters, digits, '-', '_' and '.', starting with a letter or digit, not ending in '.' or '-'.</summary>
    public static readonly NameRule Default = new(1, 80, "letters, digits, '-', '.' or '_'", c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.', ForbiddenEndings: ".-", ForbiddenStarts: "-._");

    public string? Validate(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length < MinLength || name.Length > MaxLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"The name must be {MinLength} to {MaxLength} characters long.");
        }

        foreach (var c in name)
        {
            if (!IsAllowed(c))
            {
                return $"The name can only contain {AllowedDescription}; '{c}' is not allowed.";
            }
        }

        if (ForbiddenEndings is not null && ForbiddenEndings.Contains(name[^1], StringComparison.Ordinal))
        {
            return $"The name cannot end with '{name[^1]}'.";
        }

        if (ForbiddenStarts is not null && ForbiddenStarts.Contains(name[0], StringComparison.Ordinal))
        {
            return $"The name cannot start with '{name[0]}'.";
        }

        return null;
    }
}
