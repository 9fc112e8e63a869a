using System.Text.Json;
using Holdfast.Resources.Errors;
using Microsoft.AspNetCore.Http;

namespace Holdfast.Server.Arm.Errors;

/// <summary>Renders ARM's error envelope: <c>{"error":{"code","message","target","details"}}</c>. The one place errors become bytes.</summary>
internal static class ArmErrorWriter
{
    public static async Task WriteAsync(HttpContext context, ApiException exception)
    {
        var response = context.Response;
        response.StatusCode = (int)exception.StatusCode;
        response.ContentType = "application/json; charset=utf-8";
        if (exception.RetryAfterSeconds is { } retryAfter)
        {
            response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        await using var writer = new Utf8JsonWriter(response.Body, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        writer.WriteStartObject();
        writer.WritePropertyName("error");
        WriteError(writer, exception.ToError());
        writer.WriteEndObject();
        await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
    }

    public static void WriteError(Utf8JsonWriter writer, ApiError error)
    {
        writer.WriteStartObject();
        writer.WriteString("code", error.Code);
        writer.WriteString("message", error.Message);
        if (error.Target is not null)
        {
            writer.WriteString("target", error.Target);
        }

        if (error.Details is { Count: > 0 } details)
        {
            writer.WriteStartArray("details");
            foreach (var detail in details)
            {
                WriteError(writer, detail);
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
    }
}
