using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Holdfast.Identity.Tokens;

/// <summary>The claims Holdfast puts in, and reads back from, an access token.</summary>
public sealed record TokenPrincipal(string TenantId, string ObjectId, string AppId, string? DisplayName)
{
    /// <summary>
    /// The credential the token was issued for (a service principal's password key id, a user's password id), in the
    /// custom claim <see cref="TokenService.CredentialClaim"/>; the server refuses the token once that credential is gone.
    /// </summary>
    public string? CredentialId { get; init; }

    /// <summary>True for a person signed in with a password (<c>idtyp</c> = <c>user</c>), false for an application.</summary>
    public bool IsUser { get; init; }

    /// <summary>The user's sign-in name (<c>upn</c>), for users only.</summary>
    public string? UserName { get; init; }
}

public sealed record IssuedToken(string AccessToken, DateTimeOffset ExpiresOn);

/// <summary>Why a token was refused; each maps to the ARM code a client would see from Azure.</summary>
public enum TokenFailure
{
    None,
    Malformed,
    BadSignature,
    Expired,
    WrongAudience,
    WrongIssuer,
    NotYetValid,
    UnknownKey,
}

public sealed record TokenValidation(TokenPrincipal? Principal, TokenFailure Failure, string? Message)
{
    /// <summary>When a valid token expires (its <c>exp</c>), so callers may cache the result until then.</summary>
    public DateTimeOffset ExpiresOn { get; init; }

    public bool IsValid => Principal is not null;
}

/// <summary>
/// Issues and validates ES256 access tokens in the shape Entra ID uses for ARM (<c>tid</c>, <c>oid</c>, <c>appid</c>,
/// <c>azp</c>, <c>aud</c>, <c>iss</c> = <c>{authority}/{tenant}/v2.0</c>). Validation accepts every key in the set,
/// so a rotated-out key keeps working for tokens it signed until they expire.
/// </summary>
public sealed class TokenService
{
    private readonly Func<IReadOnlyList<SigningKey>> _keys;
    private readonly Uri _authority;
    private readonly string _audience;
    private readonly TimeSpan _lifetime;
    private readonly TimeProvider _timeProvider;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false, MapInboundClaims = false };

    /// <summary>The custom claim naming the credential a token was issued for.</summary>
    public const string CredentialClaim = "hf_cred";

    /// <param name="keys">The current key set; the first key signs.</param>
    /// <param name="authority">The server's public root, e.g. <c>https://localhost:8443/</c>.</param>
    public TokenService(Func<IReadOnlyList<SigningKey>> keys, Uri authority, string audience, TimeSpan lifetime, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(authority);
        ArgumentException.ThrowIfNullOrEmpty(audience);
        _keys = keys;
        _authority = authority;
        _audience = audience;
        _lifetime = lifetime;
        _timeProvider = timeProvider;
    }

    public string Audience => _audience;

    public TimeSpan Lifetime => _lifetime;

    public string IssuerFor(string tenantId) => new Uri(_authority, tenantId + "/v2.0").ToString();

    /// <summary>True when <paramref name="requested"/> names this server's audience, with or without trailing slashes.</summary>
    public bool IsOwnAudience(string requested) =>
        string.Equals(requested.TrimEnd('/'), _audience.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);

    public IssuedToken Issue(TokenPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        var key = _keys()[0];
        var now = _timeProvider.GetUtcNow();
        var expires = now + _lifetime;
        var claims = new Dictionary<string, object>
        {
            ["tid"] = principal.TenantId,
            ["oid"] = principal.ObjectId,
            ["sub"] = principal.ObjectId,
            ["appid"] = principal.AppId,
            ["azp"] = principal.AppId,
            ["idtyp"] = principal.IsUser ? "user" : "app",
            ["ver"] = "2.0",
        };
        if (principal.DisplayName is not null)
        {
            claims["name"] = principal.DisplayName;
        }

        if (principal.CredentialId is not null)
        {
            claims[CredentialClaim] = principal.CredentialId;
        }

        if (principal.UserName is not null)
        {
            claims["upn"] = principal.UserName;
            claims["unique_name"] = principal.UserName;
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = IssuerFor(principal.TenantId),
            Audience = _audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(key.SecurityKey, SecurityAlgorithms.EcdsaSha256),
        };
        return new IssuedToken(_handler.CreateToken(descriptor), expires);
    }

    /// <summary>
    /// An OpenID Connect id token for a signed-in user, addressed to the client app (<c>aud</c> = its client id), as
    /// Entra ID returns with a user's access token. It says who signed in; it is never accepted as an access token,
    /// because its audience is not this cloud's.
    /// </summary>
    public string IssueIdToken(TokenPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        var now = _timeProvider.GetUtcNow();
        var claims = new Dictionary<string, object>
        {
            ["tid"] = principal.TenantId,
            ["oid"] = principal.ObjectId,
            ["sub"] = principal.ObjectId,
            ["ver"] = "2.0",
        };
        if (principal.DisplayName is not null)
        {
            claims["name"] = principal.DisplayName;
        }

        if (principal.UserName is not null)
        {
            claims["preferred_username"] = principal.UserName;
        }

        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = IssuerFor(principal.TenantId),
            Audience = principal.AppId,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + _lifetime).UtcDateTime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(_keys()[0].SecurityKey, SecurityAlgorithms.EcdsaSha256),
        });
    }

    public async ValueTask<TokenValidation> ValidateAsync(string token)
    {
        JsonWebToken parsed;
        try
        {
            parsed = new JsonWebToken(token);
        }
        catch (ArgumentException)
        {
            return new(null, TokenFailure.Malformed, "The access token is not a well-formed JWT.");
        }

        // The issuer we expect is derived from tid before the signature is checked, so tid must be a plain GUID.
        if (!parsed.TryGetPayloadValue<string>("tid", out var tenantId) || !Guid.TryParseExact(tenantId, "D", out _))
        {
            return new(null, TokenFailure.Malformed, "The access token has no valid tenant (tid) claim.");
        }

        var now = _timeProvider.GetUtcNow();
        var keys = _keys();
        if (parsed.Alg == SecurityAlgorithms.EcdsaSha256 && !keys.Any(k => string.Equals(k.KeyId, parsed.Kid, StringComparison.Ordinal)))
        {
            return new(null, TokenFailure.UnknownKey, $"The access token was signed with key id '{parsed.Kid}', which is not one of this cloud's signing keys.");
        }

        var parameters = new TokenValidationParameters
        {
            ValidIssuer = IssuerFor(tenantId),
            ValidAudiences = [_audience, _audience.TrimEnd('/')],
            IssuerSigningKeys = keys.Select(k => (SecurityKey)k.SecurityKey).ToArray(),
            // Only the key the token names: a token must not validate by trying every key under a made-up kid.
            TryAllIssuerSigningKeys = false,
            ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = TimeSpan.FromMinutes(1),
            LifetimeValidator = (notBefore, expires, _, p) =>
                expires is not null && now.UtcDateTime <= expires.Value + p.ClockSkew
                && (notBefore is null || now.UtcDateTime >= notBefore.Value - p.ClockSkew),
        };

        var result = await _handler.ValidateTokenAsync(parsed, parameters).ConfigureAwait(false);
        if (!result.IsValid)
        {
            var notBefore = parsed.ValidFrom;
            return result.Exception switch
            {
                SecurityTokenInvalidLifetimeException or SecurityTokenNotYetValidException when notBefore != DateTime.MinValue && notBefore > now.UtcDateTime + parameters.ClockSkew =>
                    new(null, TokenFailure.NotYetValid, $"The access token is not yet valid: its not-before UTC time '{notBefore:O}' is later than current UTC time '{now.UtcDateTime:O}'."),
                SecurityTokenInvalidLifetimeException or SecurityTokenExpiredException or SecurityTokenNotYetValidException =>
                    new(null, TokenFailure.Expired, $"The access token expiry UTC time '{parsed.ValidTo:O}' is earlier than current UTC time '{now.UtcDateTime:O}'."),
                SecurityTokenInvalidAudienceException =>
                    new(null, TokenFailure.WrongAudience, $"The access token has been obtained for wrong audience or resource '{(parsed.Audiences.FirstOrDefault() ?? string.Empty)}'. It should exactly match with one of the allowed audiences '{_audience}'."),
                SecurityTokenInvalidIssuerException =>
                    new(null, TokenFailure.WrongIssuer, $"The access token is from the wrong issuer '{parsed.Issuer}'. It must match the tenant '{IssuerFor(tenantId)}' associated with this subscription."),
                _ => new(null, TokenFailure.BadSignature, "The access token signature is invalid or the token algorithm is not allowed."),
            };
        }

        var claims = result.ClaimsIdentity;
        var oid = claims.FindFirst("oid")?.Value;
        var appId = claims.FindFirst("appid")?.Value ?? claims.FindFirst("azp")?.Value;
        if (oid is null || appId is null)
        {
            return new(null, TokenFailure.Malformed, "The access token lacks the oid or appid claim.");
        }

        var principal = new TokenPrincipal(tenantId, oid, appId, claims.FindFirst(ClaimTypes.Name)?.Value ?? claims.FindFirst("name")?.Value)
        {
            CredentialId = claims.FindFirst(CredentialClaim)?.Value,
            IsUser = claims.FindFirst("idtyp")?.Value == "user",
            UserName = claims.FindFirst("upn")?.Value,
        };
        return new(principal, TokenFailure.None, null)
        {
            ExpiresOn = new DateTimeOffset(parsed.ValidTo, TimeSpan.Zero),
        };
    }
}
