using System.Text.Json;
using System.Text.Json.Nodes;

namespace Holdfast.Providers.Framework;

/// <summary>
/// Helpers over a stored resource: the value in the store is exactly the ARM JSON a GET returns (less <c>etag</c>,
/// which is the store revision and is added when served), so reads can stream it without re-serialising.
/// </summary>
public static class ResourceDocument
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static JsonObject Parse(ReadOnlyMemory<byte> value) =>
        JsonNode.Parse(value.Span) as JsonObject ?? throw new JsonException("A stored resource is not a JSON object.");

    public static byte[] Serialize(JsonObject resource) => JsonSerializer.SerializeToUtf8Bytes(resource, Compact);

    public static string? GetProvisioningState(JsonObject resource) =>
        (resource["properties"] as JsonObject)?["provisioningState"]?.GetValue<string>();

    /// <summary>
    /// <see cref="GetProvisioningState(JsonObject)"/> read straight from a stored document, without building its node
    /// tree: for watch consumers that only need the state of every change.
    /// </summary>
    public static string? ReadProvisioningState(ReadOnlySpan<byte> value)
    {
        var reader = new Utf8JsonReader(value);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("A stored resource is not a JSON object.");
        }

        string? state = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isProperties = reader.ValueTextEquals("properties"u8);
            reader.Read();
            if (isProperties && reader.TokenType == JsonTokenType.StartObject)
            {
                state = ReadStateProperty(ref reader);
            }
            else if (isProperties)
            {
                state = null;
            }
            else
            {
                reader.Skip();
            }
        }

        return state;
    }

    public static void SetProvisioningState(JsonObject resource, string state)
    {
        if (resource["properties"] is not JsonObject properties)
        {
            properties = [];
            resource["properties"] = properties;
        }

        properties["provisioningState"] = state;
    }

    /// <summary>The resource as served: <c>etag</c> first, then every stored property (the nodes move into the result).</summary>
    public static JsonObject WithETag(JsonObject resource, string etag)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var served = new JsonObject { ["etag"] = etag };
        foreach (var (name, node) in resource.ToArray())
        {
            resource.Remove(name);
            served[name] = node;
        }

        return served;
    }

    /// <summary>Reads the properties object the reader stands on to its end; its provisioningState, if any.</summary>
    private static string? ReadStateProperty(ref Utf8JsonReader reader)
    {
        string? state = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isState = reader.ValueTextEquals("provisioningState"u8);
            reader.Read();
            if (isState)
            {
                // As JsonNode's GetValue<string>: a state that is not a string is an error, null is no state.
                state = reader.TokenType == JsonTokenType.Null ? null : reader.GetString();
            }
            else
            {
                reader.Skip();
            }
        }

        return state;
    }

    /// <summary>ARM's weak ETag for a revision; <c>If-Match</c> accepts it with or without the <c>W/</c> prefix.</summary>
    public static string ETag(long modRevision) => "W/\"" + modRevision.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\"";

    /// <summary>Parses an ETag this server issued back to its revision; null when it is not one of ours.</summary>
    public static long? ParseETag(string etag)
    {
        var text = etag.Trim();
        if (text.StartsWith("W/", StringComparison.Ordinal))
        {
            text = text[2..];
        }

        text = text.Trim('"');
        return long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var revision) ? revision : null;
    }
}
