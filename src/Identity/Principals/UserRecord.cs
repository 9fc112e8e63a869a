using System.Text.Json;
using System.Text.Json.Serialization;
using Holdfast.Identity.Secrets;

namespace Holdfast.Identity.Principals;

/// <summary>
/// A person who signs in with a user name and password (the OAuth2 password grant, as <c>az login -u</c> uses). Only
/// the password's hash is stored. <see cref="PasswordId"/> changes with every password set and travels in the user's
/// tokens, so a password change refuses every token issued before it.
/// </summary>
public sealed record UserRecord
{
    /// <summary>PBKDF2 iterations for human passwords (OWASP's figure for PBKDF2-HMAC-SHA256); client secrets need fewer.</summary>
    public const int PasswordIterations = 600_000;

    [JsonPropertyName("tenantId")]
    public required string TenantId { get; init; }

    /// <summary>The resource name, which is also the user name to sign in with.</summary>
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("objectId")]
    public required string ObjectId { get; init; }

    [JsonPropertyName("displayName")]
    public required string DisplayName { get; init; }

    [JsonPropertyName("passwordHash")]
    public required string PasswordHash { get; init; }

    [JsonPropertyName("passwordId")]
    public required string PasswordId { get; init; }

    [JsonPropertyName("passwordChangedAt")]
    public required DateTimeOffset PasswordChangedAt { get; init; }

    public bool VerifyPassword(string password) => SecretHasher.Verify(password, PasswordHash);

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, IdentityJsonContext.Default.UserRecord);

    public static UserRecord Deserialize(ReadOnlySpan<byte> bytes) =>
        JsonSerializer.Deserialize(bytes, IdentityJsonContext.Default.UserRecord) ?? throw new JsonException("A user record is null.");
}
