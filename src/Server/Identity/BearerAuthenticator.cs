using System.Collections.Concurrent;
using System.Net;
using Holdfast.Identity.Tokens;
using Holdfast.Resources.Errors;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Identity;

/// <summary>
/// Authenticates <c>Authorization: Bearer</c> on every ARM request, with Azure's 401 codes. A token that validated is
/// remembered until its own expiry (bounded cache), so the signature check is paid once per token, not per request;
/// expiry is still checked on every hit. Every request, cache hits included, also checks in
/// <see cref="PrincipalDirectory"/> (a dictionary lookup) that the token's principal still exists and the credential it
/// was issued for was not removed or replaced: deleting a principal or removing its password revokes its tokens.
/// </summary>
internal sealed class BearerAuthenticator(TokenService tokens, PrincipalDirectory directory, TimeProvider timeProvider)
{
    private const int CacheLimit = 10_000;
    private readonly ConcurrentDictionary<string, CachedToken> _cache = new(StringComparer.Ordinal);

    public async ValueTask<TokenPrincipal> AuthenticateAsync(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
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
                await CheckStandingAsync(token, cached.Principal, request.HttpContext.RequestAborted).ConfigureAwait(false);
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
                TokenFailure.NotYetValid or TokenFailure.UnknownKey => Unauthorized(ArmErrorCodes.InvalidAuthenticationToken, result.Message!),
                _ => Unauthorized(ArmErrorCodes.InvalidAuthenticationToken, "The received access token is not valid: " + result.Message),
            };
        }

        await CheckStandingAsync(token, result.Principal, request.HttpContext.RequestAborted).ConfigureAwait(false);
        if (_cache.Count >= CacheLimit)
        {
            _cache.Clear();
        }

        _cache[token] = new CachedToken(result.Principal, result.ExpiresOn);
        return result.Principal;
    }

    private async ValueTask CheckStandingAsync(string token, TokenPrincipal principal, CancellationToken cancellationToken)
    {
        var standing = await directory.CheckTokenAsync(principal.TenantId, principal.ObjectId, principal.CredentialId, cancellationToken).ConfigureAwait(false);
        if (standing == TokenStanding.Current)
        {
            return;
        }

        _cache.TryRemove(token, out _);
        throw standing == TokenStanding.PrincipalMissing
            ? Unauthorized(ArmErrorCodes.InvalidAuthenticationToken, $"The access token is no longer valid: the principal '{principal.ObjectId}' it was issued to does not exist in tenant '{principal.TenantId}'.")
            : Unauthorized(ArmErrorCodes.InvalidAuthenticationToken, principal.CredentialId is null
                ? "The access token is no longer valid: it names no credential; sign in again."
                : $"The access token is no longer valid: the credential '{principal.CredentialId}' it was issued for was removed or replaced; sign in again.");
    }

    private static ApiException Unauthorized(string code, string message) => new(HttpStatusCode.Unauthorized, code, message);

    private sealed record CachedToken(TokenPrincipal Principal, DateTimeOffset ExpiresOn);
}
