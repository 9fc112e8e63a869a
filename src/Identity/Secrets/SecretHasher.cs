using System.Globalization;
using System.Security.Cryptography;

namespace Holdfast.Identity.Secrets;

/// <summary>
/// Hashes secrets for storage as <c>pbkdf2-sha256${iterations}${salt}${hash}</c> (base64). Only the hash is stored,
/// as Microsoft Graph does for application passwords; verification is constant-time.
/// </summary>
public static class SecretHasher
{
    private const string Scheme = "pbkdf2-sha256";
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    /// <summary>
    /// Client secrets are 256-bit random values, so a modest iteration count is enough; it keeps the token endpoint fast.
    /// Human passwords should pass a higher count.
    /// </summary>
    public const int DefaultIterations = 10_000;

    public static string Hash(string secret, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(secret, salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return string.Join('$', Scheme, iterations.ToString(CultureInfo.InvariantCulture), Convert.ToBase64String(salt), Convert.ToBase64String(hash));
    }

    public static bool Verify(string secret, string stored)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(stored);
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != Scheme || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations <= 0)
        {
            return false;
        }

        byte[] salt, expected;
        try
        {
            salt = Convert.FromBase64String(parts[2]);
            expected = Convert.FromBase64String(parts[3]);
        }
        catch (FormatException)
        {
            return false;
        }

        // Hash always writes HashBytes; a shorter stored hash (empty, truncated) would match far too many secrets.
        if (expected.Length != HashBytes)
        {
            return false;
        }

        var actual = Rfc2898DeriveBytes.Pbkdf2(secret, salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>A new random secret: 40 URL-safe characters (240 bits), like Entra ID client secrets in length.</summary>
    public static string NewSecret()
    {
        var bytes = RandomNumberGenerator.GetBytes(30);
        return Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');
    }
}
