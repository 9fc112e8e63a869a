using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Holdfast.Resources.Errors;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Arm;

/// <summary>
/// Reads a request body as ARM does: JSON only (415 otherwise), at most the configured size (413), a JSON object
/// (400 <c>InvalidRequestContent</c> with the parser's position otherwise). Nothing is written before this succeeds.
/// </summary>
internal static class ArmBody
{
    private static readonly JsonNodeOptions NodeOptions = new() { PropertyNameCaseInsensitive = false };
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64, AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow };

    public static async Task<JsonObject> ReadObjectAsync(HttpContext context, bool allowEmpty = false)
    {
        var request = context.Request;
        if (request.ContentLength is 0 || (request.ContentLength is null && !request.Headers.ContainsKey("Transfer-Encoding")))
        {
            if (allowEmpty)
            {
                return [];
            }

            throw ApiErrors.InvalidRequestContent("The request content was invalid and could not be deserialized: 'The request body is empty.'.");
        }

        var limit = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
        if (request.ContentLength > limit)
        {
            throw TooLarge(limit.Value);
        }

        var contentType = request.ContentType;
        if (contentType is null || !IsJson(contentType))
        {
            throw new ApiException(HttpStatusCode.UnsupportedMediaType, ArmErrorCodes.UnsupportedMediaType, $"The content media type '{contentType ?? "(none)"}' is not supported. Only 'application/json' is supported.");
        }

        using var buffer = new MemoryStream();
        try
        {
            await request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(limit ?? 0);
        }

        JsonNode? node;
        try
        {
            node = JsonNode.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), NodeOptions, DocumentOptions);
        }
        catch (JsonException ex)
        {
            throw ApiErrors.InvalidRequestContent($"The request content was invalid and could not be deserialized: '{ex.Message}'.");
        }

        return node as JsonObject
            ?? throw ApiErrors.InvalidRequestContent("The request content was invalid and could not be deserialized: 'The body must be a JSON object.'.");
    }

    public static ApiException TooLarge(long limit) =>
        new(HttpStatusCode.RequestEntityTooLarge, ArmErrorCodes.RequestEntityTooLarge, $"The request content size exceeds the maximum allowed size of {limit} bytes.");

    private static bool IsJson(string contentType)
    {
        var mediaType = contentType.Split(';', 2)[0].Trim();
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (mediaType.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }
}
