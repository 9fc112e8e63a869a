using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Arm;

/// <summary>Writes ARM JSON responses. Stored resources are streamed as stored, with <c>etag</c> spliced in when the type has one.</summary>
internal static class ArmResponses
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Task WriteJsonAsync(HttpContext context, int statusCode, JsonNode body)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "application/json; charset=utf-8";
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return Task.CompletedTask;
        }

        var bytes = JsonSerializer.SerializeToUtf8Bytes(body, Options);
        context.Response.ContentLength = bytes.Length;
        return context.Response.Body.WriteAsync(bytes, context.RequestAborted).AsTask();
    }

    /// <summary>Writes a stored resource document; with <paramref name="etag"/>, also as an <c>etag</c> property and header.</summary>
    public static async Task WriteStoredAsync(HttpContext context, int statusCode, ReadOnlyMemory<byte> document, string? etag)
    {
        var response = context.Response;
        response.StatusCode = statusCode;
        response.ContentType = "application/json; charset=utf-8";
        if (etag is not null)
        {
            response.Headers.ETag = etag;
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        if (etag is null || document.Length < 2)
        {
            response.ContentLength = document.Length;
            await response.Body.WriteAsync(document, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        // {"etag":"W/\"5\"", + the stored object without its opening brace.
        var prefix = System.Text.Encoding.UTF8.GetBytes("{\"etag\":" + JsonSerializer.Serialize(etag, Options) + (document.Length > 2 ? "," : string.Empty));
        response.ContentLength = prefix.Length + document.Length - 1;
        await response.Body.WriteAsync(prefix, context.RequestAborted).ConfigureAwait(false);
        await response.Body.WriteAsync(document[1..], context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The absolute URL clients should use for a path on this server (LRO headers, nextLink).</summary>
    public static string AbsoluteUrl(HttpContext context, string pathAndQuery)
    {
        var request = context.Request;
        return $"{request.Scheme}://{request.Host}{pathAndQuery}";
    }
}
