using System.Text.Json;
using System.Text.Json.Serialization;

namespace Holdfast.Bench.Http;

/// <summary>The fields of the server's <c>admin-credentials.json</c> this tool uses (the server owns the format).</summary>
internal sealed record AdminCredentialsFile(
    [property: JsonPropertyName("tenantId")] string TenantId,
    [property: JsonPropertyName("clientId")] string ClientId,
    [property: JsonPropertyName("clientSecret")] string ClientSecret,
    [property: JsonPropertyName("subscriptionId")] string SubscriptionId,
    [property: JsonPropertyName("endpoint")] string Endpoint,
    [property: JsonPropertyName("audience")] string Audience,
    [property: JsonPropertyName("caCertificatePath")] string CaCertificatePath)
{
    public static AdminCredentialsFile Load(string path)
    {
        AdminCredentialsFile? credentials;
        try
        {
            credentials = JsonSerializer.Deserialize(File.ReadAllText(path), BenchJsonContext.Default.AdminCredentialsFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new SetupException($"Cannot read the admin credentials '{path}': {ex.Message}", ex);
        }

        if (credentials is null || string.IsNullOrEmpty(credentials.Endpoint) || string.IsNullOrEmpty(credentials.ClientSecret) || string.IsNullOrEmpty(credentials.CaCertificatePath))
        {
            throw new SetupException($"The admin credentials '{path}' lack endpoint, clientSecret or caCertificatePath.");
        }

        return credentials;
    }
}

[JsonSerializable(typeof(AdminCredentialsFile))]
[JsonSerializable(typeof(TokenResponse))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;

internal sealed record TokenResponse([property: JsonPropertyName("access_token")] string? AccessToken);
