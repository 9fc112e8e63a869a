using System.Text.Json;
using System.Text.Json.Serialization;
using Holdfast.Identity.Secrets;

namespace Holdfast.Identity.Principals;

/// <summary>One hashed client secret, as Microsoft Graph's passwordCredential (the secret text itself is never stored).</summary>
public sealed record PasswordCredential
{
    [JsonPropertyName("keyId")]
    public required string KeyId { get; init; }

    [JsonPropertyName("hash")]
    public required string Hash { get; init; }

    [JsonPropertyName("endDateTime")]
    public required DateTimeOffset EndDateTime { get; init; }

    [JsonPropertyName("displayName")]
    public string? DisplayName { get; init; }
}

/// <summary>A service principal: an application identity that signs in with the client-credentials grant.</summary>
public sealed record ServicePrincipalRecord
{
    [JsonPropertyName("tenantId")]
    public required string TenantId { get; init; }

    /// <summary>The resource name (<c>/providers/Holdfast.Identity/servicePrincipals/{name}</c>); null only in records written before names existed.</summary>
    [JsonPropertyName("name")]
    public string? Name { get; init; }

    /// <summary>The client id used to sign in.</summary>
    [JsonPropertyName("appId")]
    public required string AppId { get; init; }

    /// <summary>The principal id that role assignments name.</summary>
    [JsonPropertyName("objectId")]
    public required string ObjectId { get; init; }

    [JsonPropertyName("displayName")]
    public required string DisplayName { get; init; }

    [JsonPropertyName("passwordCredentials")]
    public required IReadOnlyList<PasswordCredential> PasswordCredentials { get; init; }

    /// <summary>True when <paramref name="secret"/> matches a credential that has not expired.</summary>
    public bool VerifySecret(string secret, DateTimeOffset now) => FindCredential(secret, now) is not null;

    /// <summary>The unexpired credential <paramref name="secret"/> matches, or null; its key id goes into the token so removing it revokes the token.</summary>
    public PasswordCredential? FindCredential(string secret, DateTimeOffset now) =>
        PasswordCredentials.FirstOrDefault(c => c.EndDateTime > now && SecretHasher.Verify(secret, c.Hash));

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, IdentityJsonContext.Default.ServicePrincipalRecord);

    public static ServicePrincipalRecord Deserialize(ReadOnlySpan<byte> bytes) =>
        JsonSerializer.Deserialize(bytes, IdentityJsonContext.Default.ServicePrincipalRecord) ?? throw new JsonException("A service principal record is null.");
}

[JsonSerializable(typeof(ServicePrincipalRecord))]
[JsonSerializable(typeof(UserRecord))]
[JsonSerializable(typeof(GroupRecord))]
internal sealed partial class IdentityJsonContext : JsonSerializerContext;
