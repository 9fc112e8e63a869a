using System.Text.Json;
using System.Text.Json.Serialization;

namespace Holdfast.Server.Bootstrap;

/// <summary>
/// <c>admin-credentials.json</c>: everything a client needs to manage this control plane as the bootstrap admin —
/// the same fields an Azure service-principal login takes, plus the CA to trust. Written once, mode 0600.
/// </summary>
public sealed record AdminCredentials
{
    public const string FileName = "admin-credentials.json";

    [JsonPropertyName("tenantId")]
    public required string TenantId { get; init; }

    [JsonPropertyName("clientId")]
    public required string ClientId { get; init; }

    [JsonPropertyName("clientSecret")]
    public required string ClientSecret { get; init; }

    [JsonPropertyName("objectId")]
    public required string ObjectId { get; init; }

    [JsonPropertyName("subscriptionId")]
    public required string SubscriptionId { get; init; }

    [JsonPropertyName("endpoint")]
    public required string Endpoint { get; init; }

    [JsonPropertyName("audience")]
    public required string Audience { get; init; }

    [JsonPropertyName("caCertificatePath")]
    public required string CaCertificatePath { get; init; }

    [JsonPropertyName("location")]
    public required string Location { get; init; }

    public static AdminCredentials Load(string path) =>
        JsonSerializer.Deserialize(File.ReadAllText(path), ServerJsonContext.Default.AdminCredentials)
        ?? throw new StartupException($"'{path}' is empty.");

    public string ToJson() => JsonSerializer.Serialize(this, ServerJsonContext.Default.AdminCredentials);
}

[JsonSerializable(typeof(AdminCredentials))]
[JsonSourceGenerationOptions(WriteIndented = true)]
internal sealed partial class ServerJsonContext : JsonSerializerContext;
