using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Holdfast.Server.Cluster;

/// <summary>
/// Seals and opens one stored secret: AES-256-GCM under a key derived from the cluster token with PBKDF2-HMAC-SHA256
/// (salt and iteration count in the envelope), the store key as associated data so a value moved to another key does
/// not open. Envelope (UTF-8 JSON): <c>{"v":1,"kdf":"pbkdf2-sha256","iter":N,"salt","nonce","tag","ct"}</c>, base64.
/// Derived keys are cached per salt; a box seals with the salt it last opened, so one cluster derives once.
/// </summary>
internal sealed class SecretBox
{
    internal const int Iterations = 200_000;
    private const int MaxIterations = 5_000_000;
    private const int SaltBytes = 16;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private readonly ClusterToken _token;
    private readonly Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private (byte[] Salt, int Iterations)? _sealWith;

    public SecretBox(ClusterToken token)
    {
        ArgumentNullException.ThrowIfNull(token);
        _token = token;
    }

    public byte[] Seal(string storeKey, ReadOnlySpan<byte> plaintext)
    {
        (byte[] Salt, int Iterations) kdf;
        lock (_gate)
        {
            _sealWith ??= (RandomNumberGenerator.GetBytes(SaltBytes), Iterations);
            kdf = _sealWith.Value;
        }

        var key = KeyFor(kdf.Salt, kdf.Iterations);
        var nonce = RandomNumberGenerator.GetBytes(NonceBytes);
        var ciphertext = new byte[plaintext.Length];
        var tag = new byte[TagBytes];
        using (var aes = new AesGcm(key, TagBytes))
        {
            aes.Encrypt(nonce, plaintext, ciphertext, tag, Encoding.UTF8.GetBytes(storeKey));
        }

        var envelope = new JsonObject
        {
            ["v"] = 1,
            ["kdf"] = "pbkdf2-sha256",
            ["iter"] = kdf.Iterations,
            ["salt"] = Convert.ToBase64String(kdf.Salt),
            ["nonce"] = Convert.ToBase64String(nonce),
            ["tag"] = Convert.ToBase64String(tag),
            ["ct"] = Convert.ToBase64String(ciphertext),
        };
        return Encoding.UTF8.GetBytes(envelope.ToJsonString());
    }

    /// <summary>The plaintext, or <see cref="CryptographicException"/> when the token is wrong or the value was altered.</summary>
    public byte[] Open(string storeKey, ReadOnlySpan<byte> sealedValue)
    {
        byte[] salt, nonce, tag, ciphertext;
        int iterations;
        try
        {
            var envelope = JsonNode.Parse(sealedValue)!.AsObject();
            if (envelope["v"]!.GetValue<int>() != 1 || envelope["kdf"]!.GetValue<string>() != "pbkdf2-sha256")
            {
                throw new CryptographicException($"'{storeKey}' is sealed in an unknown format.");
            }

            iterations = envelope["iter"]!.GetValue<int>();
            salt = Convert.FromBase64String(envelope["salt"]!.GetValue<string>());
            nonce = Convert.FromBase64String(envelope["nonce"]!.GetValue<string>());
            tag = Convert.FromBase64String(envelope["tag"]!.GetValue<string>());
            ciphertext = Convert.FromBase64String(envelope["ct"]!.GetValue<string>());
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or FormatException or InvalidOperationException or NullReferenceException)
        {
            throw new CryptographicException($"'{storeKey}' is not a sealed secret.", ex);
        }

        if (iterations is < 1 or > MaxIterations || salt.Length != SaltBytes || nonce.Length != NonceBytes || tag.Length != TagBytes)
        {
            throw new CryptographicException($"'{storeKey}' is not a sealed secret.");
        }

        var plaintext = new byte[ciphertext.Length];
        using (var aes = new AesGcm(KeyFor(salt, iterations), TagBytes))
        {
            aes.Decrypt(nonce, ciphertext, tag, plaintext, Encoding.UTF8.GetBytes(storeKey));
        }

        lock (_gate)
        {
            _sealWith = (salt, iterations);
        }

        return plaintext;
    }

    private byte[] KeyFor(byte[] salt, int iterations)
    {
        var cacheKey = iterations.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":" + Convert.ToBase64String(salt);
        lock (_gate)
        {
            if (_keys.TryGetValue(cacheKey, out var cached))
            {
                return cached;
            }
        }

        var key = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(_token.Value), salt, iterations, HashAlgorithmName.SHA256, 32);
        lock (_gate)
        {
            _keys[cacheKey] = key;
        }

        return key;
    }
}
