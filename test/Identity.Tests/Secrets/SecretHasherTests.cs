using System.Security.Cryptography;
using Holdfast.Identity.Secrets;
using Xunit;

namespace Holdfast.Identity.Tests.Secrets;

public sealed class SecretHasherTests
{
    // Few iterations keep the suite fast; the scheme is the same at any count.
    private const int Iterations = 10;

    [Fact]
    public void Verify_RightSecret_ReturnsTrue()
    {
        var stored = SecretHasher.Hash("s3cret", Iterations);

        Assert.True(SecretHasher.Verify("s3cret", stored));
    }

    [Fact]
    public void Hash_DefaultIterations_VerifiesAndRecordsCount()
    {
        var stored = SecretHasher.Hash("s3cret");

        Assert.StartsWith("pbkdf2-sha256$10000$", stored, StringComparison.Ordinal);
        Assert.True(SecretHasher.Verify("s3cret", stored));
    }

    [Fact]
    public void Verify_WrongSecret_ReturnsFalse()
    {
        var stored = SecretHasher.Hash("s3cret", Iterations);

        Assert.False(SecretHasher.Verify("S3cret", stored));
        Assert.False(SecretHasher.Verify(string.Empty, stored));
    }

    [Fact]
    public void Hash_SameSecretTwice_UsesDifferentSalts()
    {
        Assert.NotEqual(SecretHasher.Hash("s3cret", Iterations), SecretHasher.Hash("s3cret", Iterations));
    }

    [Fact]
    public void Verify_TamperedHash_ReturnsFalse()
    {
        var parts = SecretHasher.Hash("s3cret", Iterations).Split('$');
        var hash = Convert.FromBase64String(parts[3]);
        hash[0] ^= 0x01;
        parts[3] = Convert.ToBase64String(hash);

        Assert.False(SecretHasher.Verify("s3cret", string.Join('$', parts)));
    }

    [Fact]
    public void Verify_TruncatedHash_ReturnsFalse()
    {
        // A one-byte "hash" of the right secret: accepting it would let a damaged record match 1 secret in 256.
        var parts = SecretHasher.Hash("s3cret", Iterations).Split('$');
        var salt = Convert.FromBase64String(parts[2]);
        parts[3] = Convert.ToBase64String(Rfc2898DeriveBytes.Pbkdf2("s3cret", salt, Iterations, HashAlgorithmName.SHA256, 1));

        Assert.False(SecretHasher.Verify("s3cret", string.Join('$', parts)));
    }

    [Fact]
    public void Verify_TamperedSalt_ReturnsFalse()
    {
        var parts = SecretHasher.Hash("s3cret", Iterations).Split('$');
        var salt = Convert.FromBase64String(parts[2]);
        salt[0] ^= 0x01;
        parts[2] = Convert.ToBase64String(salt);

        Assert.False(SecretHasher.Verify("s3cret", string.Join('$', parts)));
    }

    [Fact]
    public void Verify_TamperedIterationCount_ReturnsFalse()
    {
        var parts = SecretHasher.Hash("s3cret", Iterations).Split('$');
        parts[1] = "11";

        Assert.False(SecretHasher.Verify("s3cret", string.Join('$', parts)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("plain-text-secret")]
    [InlineData("pbkdf2-sha256$10$c2FsdHNhbHRzYWx0c2FsdA==")]
    [InlineData("pbkdf2-sha256$10$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaA==$extra")]
    [InlineData("bcrypt$10$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaA==")]
    [InlineData("pbkdf2-sha256$ten$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaA==")]
    [InlineData("pbkdf2-sha256$0$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaA==")]
    [InlineData("pbkdf2-sha256$-10$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaA==")]
    [InlineData("pbkdf2-sha256$+10$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaA==")]
    [InlineData("pbkdf2-sha256$99999999999$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaA==")]
    [InlineData("pbkdf2-sha256$10$not base64!$aGFzaA==")]
    [InlineData("pbkdf2-sha256$10$c2FsdHNhbHRzYWx0c2FsdA==$not base64!")]
    [InlineData("pbkdf2-sha256$10$c2FsdHNhbHRzYWx0c2FsdA==$")]
    [InlineData("pbkdf2-sha256$10$$aGFzaA==")]
    public void Verify_MalformedStoredValue_ReturnsFalse(string stored)
    {
        Assert.False(SecretHasher.Verify("s3cret", stored));
    }

    [Fact]
    public void NewSecret_Twice_IsUrlSafeAndUnique()
    {
        var a = SecretHasher.NewSecret();
        var b = SecretHasher.NewSecret();

        Assert.Equal(40, a.Length);
        Assert.NotEqual(a, b);
        Assert.DoesNotContain('+', a);
        Assert.DoesNotContain('/', a);
    }
}
