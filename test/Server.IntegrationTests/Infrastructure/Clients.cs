using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.ResourceManager;
using Holdfast.Testing;

namespace Holdfast.Server.IntegrationTests.Infrastructure;

/// <summary>
/// Clients as a user would build them: the official Azure SDK (ClientSecretCredential against the local token
/// endpoint, ArmClient on a custom ArmEnvironment) and raw HttpClient, both trusting only the server's own CA.
/// </summary>
public static class Clients
{
    public static HttpClientHandler TrustingHandler(string caCertificatePath)
    {
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(caCertificatePath));
        return new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, errors) => PinnedCa.Accepts(certificate, errors, ca),
        };
    }

    public static ClientSecretCredential Credential(ServerCredentials credentials, string? secret = null) =>
        new(credentials.TenantId, credentials.ClientId, secret ?? credentials.ClientSecret, new ClientSecretCredentialOptions
        {
            AuthorityHost = credentials.Endpoint,
            DisableInstanceDiscovery = true,
            Transport = new HttpClientTransport(TrustingHandler(credentials.CaCertificatePath)),
            Retry = { MaxRetries = 0 },
        });

    public static ArmClient Arm(ServerCredentials credentials, Action<ArmClientOptions>? configure = null, string? subscriptionId = null)
    {
        var options = new ArmClientOptions
        {
            Environment = new ArmEnvironment(credentials.Endpoint, credentials.Audience),
            Transport = new HttpClientTransport(TrustingHandler(credentials.CaCertificatePath)),
        };
        configure?.Invoke(options);
        return new ArmClient(Credential(credentials), subscriptionId ?? credentials.SubscriptionId, options);
    }

    /// <summary>A JSON request body, as the SDK sends it (<c>application/json; charset=utf-8</c>).</summary>
    public static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    public static HttpClient Http(ServerCredentials credentials) =>
        new(TrustingHandler(credentials.CaCertificatePath)) { BaseAddress = credentials.Endpoint, Timeout = TimeSpan.FromSeconds(60) };

    public static async Task<string> TokenAsync(ServerCredentials credentials)
    {
        var token = await Credential(credentials).GetTokenAsync(new TokenRequestContext([credentials.Audience + "/.default"]), CancellationToken.None).ConfigureAwait(false);
        return token.Token;
    }

    public static async Task<HttpClient> AuthenticatedHttpAsync(ServerCredentials credentials)
    {
        var client = Http(credentials);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync(credentials).ConfigureAwait(false));
        return client;
    }
}
