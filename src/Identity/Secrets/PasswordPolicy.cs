namespace Holdfast.Identity.Secrets;

/// <summary>
/// The minimum password policy, Entra ID's: 8 to 256 characters, at least three of lower case, upper case, digits
/// and symbols, and not containing the user name. <see cref="Validate"/> returns every problem, not the first.
/// </summary>
public static class PasswordPolicy
{
    public const int MinLength = 8;
    public const int MaxLength = 256;

    public static IReadOnlyList<string> Validate(string password, string userName)
    {
        ArgumentNullException.ThrowIfNull(password);
        ArgumentNullException.ThrowIfNull(userName);
        var problems = new List<string>();
        if (password.Length < MinLength || password.Length > MaxLength)
        {
            problems.Add($"The password must be {MinLength} to {MaxLength} characters long.");
        }

        var classes = (password.Any(char.IsLower) ? 1 : 0) + (password.Any(char.IsUpper) ? 1 : 0)
            + (password.Any(char.IsDigit) ? 1 : 0) + (password.Any(c => !char.IsLetterOrDigit(c)) ? 1 : 0);
        if (classes < 3)
        {
            problems.Add("The password must contain at least three of: lower-case letters, upper-case letters, digits and symbols.");
        }

        if (userName.Length >= 3 && password.Contains(userName, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add("The password must not contain the user name.");
        }

        return problems;
    }
}
