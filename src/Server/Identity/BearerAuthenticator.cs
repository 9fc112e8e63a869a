using System.Collections.Concurrent;
using System.Net;
using Holdfast.Identity.Tokens;
using Holdfast.Resources.Errors;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Identity;

/// <summary>
/// Authenticates <c>Authorization: Bearer</c> on every ARM request, with Azure's 401 codes. A token that validated is
/// remembered until its own expiry (bounded cache), so the signature check is paid once per token, not per request;
/// expiry is still checked on every hit.
/// </summary>
internal sealed class BearerAuthenticator(TokenService tokens, TimeProvider timeProvider)
{
    private const int CacheLimit = 10_000;
    private readonly ConcurrentDictionary<string, CachedToken> _cache = new(StringComparer.Ordinal);

    public async ValueTask<TokenPrincipal> AuthenticateAsync(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.Length == 0)
        {
            throw Unauthorized(ArmErrorCodes.AuthenticationFailed, "Authentication failed. The 'Authorization' header is missing.");
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= 7)
        {
            throw Unauthorized("AuthenticationFailedInvalidHeader", "Authentication failed. The 'Authorization' header is provided in an invalid format.");
        }

        var token = header[7..].Trim();
        var now = timeProvider.GetUtcNow();
        if (_cache.TryGetValue(token, out var cached))
        {
            if (cached.ExpiresOn + TimeSpan.FromMinutes(1) >= now)
            {
                return cached.Principal;
            }

            _cache.TryRemove(token, out _);
        }

        var result = await tokens.ValidateAsync(token).ConfigureAwait(false);
        if (result.Principal is null)
        {
            throw result.Failure switch
            {
                TokenFailure.Expired => Unauthorized(ArmErrorCodes.ExpiredAuthenticationToken, result.Message!),
                TokenFailure.WrongAudience => Unauthorized(ArmErrorCodes.InvalidAuthenticationTokenAudience, result.Message!),
                TokenFailure.WrongIssuer => Unauthorized("InvalidAuthenticationTokenTenant", result.Message!),
                _ => Unauthorized(ArmErrorCodes.InvalidAuthenticationToken, "The received access token is not valid: " + result.Message),
            };
        }

        if (_cache.Count >= CacheLimit)
        {
            _cache.Clear();
        }

        _cache[token] = new CachedToken(result.Principal, result.ExpiresOn);
        return result.Principal;
    }

    private static ApiException Unauthorized(string code, string message) => new(HttpStatusCode.Unauthorized, code, message);

    private sealed record CachedToken(TokenPrincipal Principal, DateTimeOffset ExpiresOn);
}
