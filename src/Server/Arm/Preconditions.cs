using Holdfast.Providers.Framework;
using Holdfast.Resources.Errors;
using Holdfast.State;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Arm;

/// <summary>
/// <c>If-Match</c> / <c>If-None-Match</c> against the stored revision (the ETag is the mod revision): <c>If-Match: *</c>
/// needs the resource to exist, <c>If-None-Match: *</c> needs it absent, and a specific ETag must equal the current one.
/// A failure is 412 <c>PreconditionFailed</c>; the caller then writes with the observed revision as its compare, so
/// the check and the write are one atomic step.
/// </summary>
internal static class Preconditions
{
    public static void Check(HttpRequest request, KeyValue? existing)
    {
        var ifMatch = request.Headers.IfMatch.ToString();
        if (ifMatch.Length > 0)
        {
            if (existing is null)
            {
                throw ApiErrors.PreconditionFailed("The resource does not exist, so the If-Match condition cannot be met.");
            }

            if (ifMatch.Trim() != "*" && !ifMatch.Split(',').Any(tag => ResourceDocument.ParseETag(tag) == existing.ModRevision))
            {
                throw ApiErrors.PreconditionFailed($"The If-Match condition '{ifMatch}' does not match the current ETag '{ResourceDocument.ETag(existing.ModRevision)}'.");
            }
        }

        var ifNoneMatch = request.Headers.IfNoneMatch.ToString();
        if (ifNoneMatch.Length > 0 && existing is not null)
        {
            if (ifNoneMatch.Trim() == "*" || ifNoneMatch.Split(',').Any(tag => ResourceDocument.ParseETag(tag) == existing.ModRevision))
            {
                throw ApiErrors.PreconditionFailed($"The If-None-Match condition '{ifNoneMatch}' failed: the resource exists with ETag '{ResourceDocument.ETag(existing.ModRevision)}'.");
            }
        }
    }
}
