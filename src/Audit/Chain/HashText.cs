namespace Holdfast.Audit.Chain;

/// <summary>The one spelling of a SHA-256 value in the audit log: 64 lowercase hexadecimal characters.</summary>
internal static class HashText
{
    public const int Length = 64;

    public static bool IsWellFormed(string? value)
    {
        if (value is null || value.Length != Length)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        return true;
    }

    public static string Sha256(byte[] data) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));

    /// <summary>The first 12 characters, enough to tell hashes apart in a message.</summary>
    public static string Short(string? value) => value is null ? "(none)" : value.Length <= 12 ? value : value[..12] + "…";
}
