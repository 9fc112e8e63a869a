using System.Buffers.Text;
using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Identity.Principals;
using Holdfast.Identity.Secrets;
using Holdfast.Identity.Tokens;
using Holdfast.Providers.Framework;
using Holdfast.Server.Arm;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Holdfast.Server.Identity;

/// <summary>
/// The local identity provider, at the host root as Entra ID lays it out: <c>/{tenant}/oauth2/v2.0/token</c> (client
/// credentials and, for users, password; also the v1 <c>/{tenant}/oauth2/token</c> with <c>resource</c>), OpenID
/// discovery and JWKS. Errors use
/// OAuth2's <c>{"error","error_description"}</c> with AADSTS codes, which MSAL turns into clear exceptions.
/// </summary>
internal static class TokenEndpoints
{
    /// <summary>Azure CLI's public client id, used when a password grant names none.</summary>
    public const string AzureCliClientId = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

    private static readonly ArmEndpointMetadata Anonymous = new(Anonymous: true);
    private static readonly Lazy<string> UnknownUserHash = new(() => SecretHasher.Hash(SecretHasher.NewSecret(), UserRecord.PasswordIterations));

    public static void Map(IEndpointRouteBuilder routes)
    {
        routes.MapPost("/{tenantId}/oauth2/v2.0/token", (HttpContext c, string tenantId) => TokenAsync(c, tenantId, v1: false)).WithMetadata(Anonymous);
        routes.MapPost("/{tenantId}/oauth2/token", (HttpContext c, string tenantId) => TokenAsync(c, tenantId, v1: true)).WithMetadata(Anonymous);
        routes.MapGet("/{tenantId}/v2.0/.well-known/openid-configuration", OpenIdConfigurationAsync).WithMetadata(Anonymous);
        routes.MapGet("/{tenantId}/.well-known/openid-configuration", OpenIdConfigurationAsync).WithMetadata(Anonymous);
        routes.MapGet("/{tenantId}/discovery/v2.0/keys", KeysAsync).WithMetadata(Anonymous);
        routes.MapGet("/{tenantId}/discovery/keys", KeysAsync).WithMetadata(Anonymous);
        routes.MapGet("/common/userrealm/{userName}", UserRealmAsync).WithMetadata(Anonymous);
    }

    private static async Task TokenAsync(HttpContext context, string tenantId, bool v1)
    {
        var data = context.RequestServices.GetRequiredService<ArmData>();
        var tokens = context.RequestServices.GetRequiredService<TokenService>();
        if (!context.Request.HasFormContentType)
        {
            await OAuthErrorAsync(context, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'. Content-Type must be application/x-www-form-urlencoded.").ConfigureAwait(false);
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var grantType = form["grant_type"].ToString();
        if (grantType is not ("client_credentials" or "password"))
        {
            await OAuthErrorAsync(context, 400, "unsupported_grant_type", 70003, $"The app requested an unsupported grant type '{grantType}'. Only client_credentials and password are supported.").ConfigureAwait(false);
            return;
        }

        var requested = v1 ? form["resource"].ToString() : form["scope"].ToString();
        var audience = v1 ? requested : AudienceFromScope(requested);
        if (audience is null || !tokens.IsOwnAudience(audience))
        {
            await OAuthErrorAsync(context, 400, "invalid_scope", 70011, $"The provided value for the input parameter 'scope' is not valid. The scope '{requested}' does not name this cloud's resource '{tokens.Audience}'.").ConfigureAwait(false);
            return;
        }

        if (!Guid.TryParse(tenantId, out _) || await data.Store.GetAsync(ResourceKeys.Tenant(tenantId), context.RequestAborted).ConfigureAwait(false) is null)
        {
            await OAuthErrorAsync(context, 400, "invalid_request", 90002, $"Tenant '{tenantId}' not found.").ConfigureAwait(false);
            return;
        }

        var principal = grantType == "password"
            ? await PasswordGrantAsync(context, data, form, tenantId).ConfigureAwait(false)
            : await ClientCredentialsGrantAsync(context, data, form, tenantId).ConfigureAwait(false);
        if (principal is null)
        {
            return;
        }

        var issued = tokens.Issue(principal);
        var lifetime = (long)tokens.Lifetime.TotalSeconds;
        var body = new JsonObject
        {
            ["token_type"] = "Bearer",
            ["expires_in"] = lifetime,
            ["ext_expires_in"] = lifetime,
            ["access_token"] = issued.AccessToken,
        };
        if (principal.IsUser)
        {
            // What a public client (MSAL, so az login -u) keeps for the signed-in account: client_info names the
            // account (uid.utid), the id token its user name; MSAL refuses to cache a user token without them.
            body["scope"] = requested;
            body["client_info"] = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(new JsonObject { ["uid"] = principal.ObjectId, ["utid"] = principal.TenantId }.ToJsonString()));
            body["id_token"] = tokens.IssueIdToken(principal);
        }

        if (v1)
        {
            body["resource"] = requested;
            body["expires_on"] = issued.ExpiresOn.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.Pragma = "no-cache";
        await ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, body).ConfigureAwait(false);
    }

    /// <summary>A service principal's token, or null after answering the OAuth2 error.</summary>
    private static async Task<TokenPrincipal?> ClientCredentialsGrantAsync(HttpContext context, ArmData data, IFormCollection form, string tenantId)
    {
        var clientId = form["client_id"].ToString();
        var secret = form["client_secret"].ToString();
        var stored = clientId.Length == 0 ? null : await data.Store.GetAsync(ResourceKeys.Principal(tenantId, clientId), context.RequestAborted).ConfigureAwait(false);
        if (stored is null)
        {
            await OAuthErrorAsync(context, 400, "unauthorized_client", 700016, $"Application with identifier '{clientId}' was not found in the directory '{tenantId}'.").ConfigureAwait(false);
            return null;
        }

        var principal = ServicePrincipalRecord.Deserialize(stored.Value.Span);
        var credential = secret.Length == 0 ? null : principal.FindCredential(secret, data.Time.GetUtcNow());
        if (credential is null)
        {
            await OAuthErrorAsync(context, 401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.").ConfigureAwait(false);
            return null;
        }

        return new TokenPrincipal(principal.TenantId, principal.ObjectId, principal.AppId, principal.DisplayName) { CredentialId = credential.KeyId };
    }

    /// <summary>
    /// A user's token (the resource-owner password grant, as <c>az login -u</c> sends it), or null after answering the
    /// OAuth2 error. <c>client_id</c> is optional (Azure CLI's public client id when absent) and must be a GUID. The
    /// user name may carry a domain (<c>alice@site</c>). Unknown users and wrong passwords get the same answer.
    /// </summary>
    private static async Task<TokenPrincipal?> PasswordGrantAsync(HttpContext context, ArmData data, IFormCollection form, string tenantId)
    {
        var clientId = form["client_id"].ToString();
        if (clientId.Length == 0)
        {
            clientId = AzureCliClientId;
        }

        // A user's token carries its client id as appid; a service principal's app id there would let a user pass
        // as that application (in the activity log's caller and claims), so it is not a public client.
        if (!Guid.TryParse(clientId, out _)
            || await data.Store.GetAsync(ResourceKeys.Principal(tenantId, clientId), context.RequestAborted).ConfigureAwait(false) is not null)
        {
            await OAuthErrorAsync(context, 400, "unauthorized_client", 700016, $"Application with identifier '{clientId}' was not found in the directory '{tenantId}'.").ConfigureAwait(false);
            return null;
        }

        var userName = form["username"].ToString();
        var password = form["password"].ToString();
        var at = userName.IndexOf('@', StringComparison.Ordinal);
        var name = at >= 0 ? userName[..at] : userName;
        var stored = name.Length is 0 or > 256 ? null : await data.Store.GetAsync(DirectoryKeys.User(tenantId, name), context.RequestAborted).ConfigureAwait(false);
        var user = stored is null ? null : UserRecord.Deserialize(stored.Value.Span);
        if (user is null)
        {
            // Same work as a real check, so response time does not reveal which user names exist.
            SecretHasher.Verify(password, UnknownUserHash.Value);
        }

        if (user is null || password.Length == 0 || !user.VerifyPassword(password))
        {
            await OAuthErrorAsync(context, 400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password.").ConfigureAwait(false);
            return null;
        }

        return new TokenPrincipal(user.TenantId, user.ObjectId, clientId, user.DisplayName) { CredentialId = user.PasswordId, IsUser = true, UserName = user.Name };
    }

    /// <summary>Maps an OAuth2 scope (<c>{audience}/.default</c>, tolerating <c>//.default</c>) to the audience.</summary>
    internal static string? AudienceFromScope(string scope)
    {
        foreach (var part in scope.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.EndsWith("/.default", StringComparison.OrdinalIgnoreCase))
            {
                return part[..^"/.default".Length];
            }
        }

        return null;
    }

    private static Task OpenIdConfigurationAsync(HttpContext context, string tenantId)
    {
        var tokens = context.RequestServices.GetRequiredService<TokenService>();
        var root = ArmResponses.AbsoluteUrl(context, "/");
        var document = new JsonObject
        {
            ["issuer"] = tokens.IssuerFor(tenantId),
            // MSAL (JavaScript, Python) rejects a discovery document without authorization_endpoint, even for the
            // client-credentials grant, which never uses it; no authorize endpoint is served.
            ["authorization_endpoint"] = $"{root}{tenantId}/oauth2/v2.0/authorize",
            ["token_endpoint"] = $"{root}{tenantId}/oauth2/v2.0/token",
            ["jwks_uri"] = $"{root}{tenantId}/discovery/v2.0/keys",
            ["token_endpoint_auth_methods_supported"] = new JsonArray("client_secret_post"),
            ["grant_types_supported"] = new JsonArray("client_credentials", "password"),
            ["response_types_supported"] = new JsonArray("token"),
            ["id_token_signing_alg_values_supported"] = new JsonArray("ES256"),
            ["subject_types_supported"] = new JsonArray("pairwise"),
            ["scopes_supported"] = new JsonArray(tokens.Audience.TrimEnd('/') + "/.default"),
            ["claims_supported"] = new JsonArray("aud", "iss", "iat", "nbf", "exp", "tid", "oid", "sub", "appid", "azp", "idtyp", "ver", "upn", TokenService.CredentialClaim),
            ["tenant_region_scope"] = null,
        };
        return ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, document);
    }

    /// <summary>
    /// Entra ID's user-realm discovery, which MSAL (and so <c>az login -u</c>) asks before a password grant: every user
    /// here is a managed (not federated) account. It says nothing about whether the user exists.
    /// </summary>
    private static Task UserRealmAsync(HttpContext context, string userName)
    {
        var at = userName.IndexOf('@', StringComparison.Ordinal);
        return ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject
        {
            ["ver"] = "1.0",
            ["account_type"] = "Managed",
            ["domain_name"] = at >= 0 ? userName[(at + 1)..] : context.Request.Host.Host,
            ["cloud_instance_name"] = context.Request.Host.Host,
            ["cloud_audience_urn"] = "urn:federation:MicrosoftOnline",
        });
    }

    private static Task KeysAsync(HttpContext context)
    {
        var keys = context.RequestServices.GetRequiredService<SigningKeySet>();
        var array = new JsonArray();
        foreach (var key in keys.Current)
        {
            var jwk = new JsonObject();
            foreach (var (name, value) in key.ToPublicJwk())
            {
                jwk[name] = value;
            }

            array.Add(jwk);
        }

        return ArmResponses.WriteJsonAsync(context, StatusCodes.Status200OK, new JsonObject { ["keys"] = array });
    }

    /// <summary>
    /// Answers an OAuth2 error. Every refused token request is a failed sign-in, recorded in the activity log first
    /// (durably); when that record cannot be stored the answer is 503 <c>temporarily_unavailable</c> instead.
    /// </summary>
    private static async Task OAuthErrorAsync(HttpContext context, int status, string error, int aadstsCode, string description)
    {
        var arm = ArmRequest.Of(context);
        var audit = context.RequestServices.GetRequiredService<Audit.AuditRecorder>();
        var tenantId = context.GetRouteValue("tenantId") as string ?? string.Empty;
        var form = context.Request.HasFormContentType && context.Request.Form is { } f ? f : null;
        var userName = form?["username"].ToString();
        if (!await audit.RecordSignInFailureAsync(context, status, $"{error} (AADSTS{aadstsCode})", tenantId, form?["client_id"].ToString(), userName).ConfigureAwait(false))
        {
            (status, error, aadstsCode, description) = (StatusCodes.Status503ServiceUnavailable, "temporarily_unavailable", 90033, "The sign-in could not be recorded; retry the request.");
        }

        var body = new JsonObject
        {
            ["error"] = error,
            ["error_description"] = $"AADSTS{aadstsCode}: {description} Trace ID: {arm.RequestId} Correlation ID: {arm.CorrelationId}",
            ["error_codes"] = new JsonArray(aadstsCode),
            ["timestamp"] = context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow().ToString("yyyy-MM-dd HH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
            ["trace_id"] = arm.RequestId,
            ["correlation_id"] = arm.CorrelationId,
        };
        await ArmResponses.WriteJsonAsync(context, status, body).ConfigureAwait(false);
    }
}
