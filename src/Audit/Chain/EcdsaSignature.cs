using System.Buffers.Text;
using System.Security.Cryptography;

namespace Holdfast.Audit.Chain;

/// <summary>
/// ECDSA P-256 with SHA-256 over canonical bytes; the signature is IEEE P1363 (r‖s, 64 bytes) in unpadded base64url,
/// as in JWS ES256. Decoding is strict: a base64url text that is not the canonical encoding of its bytes (for
/// example with stray bits in the last character) is rejected, so a signature has exactly one spelling.
/// </summary>
internal static class EcdsaSignature
{
    private const int P256SignatureLength = 64;

    public static void RequireP256(ECDsa key, string paramName)
    {
        ArgumentNullException.ThrowIfNull(key, paramName);
        if (key.KeySize != 256)
        {
            throw new ArgumentException("Audit signatures use ECDSA P-256; the key has " + key.KeySize + " bits.", paramName);
        }
    }

    public static string Sign(ECDsa key, byte[] data) =>
        Base64Url.EncodeToString(key.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

    public static bool Verify(ECDsa key, byte[] data, string? signature)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (signature is null || !Base64Url.IsValid(signature, out var length) || length != P256SignatureLength)
        {
            return false;
        }

        var bytes = Base64Url.DecodeFromChars(signature);
        if (!string.Equals(Base64Url.EncodeToString(bytes), signature, StringComparison.Ordinal))
        {
            return false;
        }

        try
        {
            return key.VerifyData(data, bytes, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
        catch (CryptographicException)
        {
            // A key of the wrong kind or size cannot have made this signature.
            return false;
        }
    }
}
