using System.Net;
using Holdfast.Resources.Errors;

namespace Holdfast.Providers.Framework;

/// <summary>
/// The schema version of a stored JSON document. Version 1 carries no marker, so every document written before schema
/// versions existed (and every ARM value, which a GET streams as stored) is version 1 with no extra byte. A document of
/// version 2 or later starts with the reserved property <c>{"$sv":N,</c>: telling the two apart is a prefix compare,
/// and stripping the marker is a splice, so neither parses the document.
/// </summary>
public static class StoredSchema
{
    private static ReadOnlySpan<byte> Prefix => "{\"$sv\":"u8;

    /// <summary>The version <paramref name="document"/> was written at: 1 without a marker.</summary>
    public static int VersionOf(ReadOnlySpan<byte> document)
    {
        if (!document.StartsWith(Prefix))
        {
            return 1;
        }

        var version = 0;
        foreach (var b in document[Prefix.Length..])
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                break;
            }

            version = checked((version * 10) + (b - '0'));
        }

        return version;
    }

    /// <summary>The document without its marker (the same bytes for version 1).</summary>
    public static ReadOnlyMemory<byte> Strip(ReadOnlyMemory<byte> document)
    {
        var span = document.Span;
        if (!span.StartsWith(Prefix))
        {
            return document;
        }

        var end = Prefix.Length;
        while (end < span.Length && span[end] is >= (byte)'0' and <= (byte)'9')
        {
            end++;
        }

        if (end < span.Length && span[end] == (byte)',')
        {
            // {"$sv":2,"a":1} → {"a":1}: reuse the byte before the first property for the opening brace.
            var copy = document[end..].ToArray();
            copy[0] = (byte)'{';
            return copy;
        }

        return "{}"u8.ToArray();
    }

    /// <summary><paramref name="json"/> (a JSON object) marked as <paramref name="version"/>; version 1 is left unmarked.</summary>
    public static byte[] Mark(ReadOnlySpan<byte> json, int version)
    {
        if (version <= 1)
        {
            return json.ToArray();
        }

        if (json.Length < 2 || json[0] != (byte)'{')
        {
            throw new ArgumentException("Only a JSON object carries a schema version.", nameof(json));
        }

        var marker = System.Text.Encoding.ASCII.GetBytes("{\"$sv\":" + version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var body = json[1..];
        var empty = body.Trim(" \r\n\t"u8).SequenceEqual("}"u8);
        var result = new byte[marker.Length + (empty ? 0 : 1) + body.Length];
        marker.CopyTo(result, 0);
        var at = marker.Length;
        if (!empty)
        {
            result[at++] = (byte)',';
        }

        body.CopyTo(result.AsSpan(at));
        return result;
    }

    /// <summary>Throws <see cref="StoredSchemaTooNewException"/> when <paramref name="document"/> is newer than <paramref name="supported"/>.</summary>
    public static int Require(string kind, ReadOnlySpan<byte> document, int supported)
    {
        var version = VersionOf(document);
        return version <= supported ? version : throw new StoredSchemaTooNewException(kind, version, supported);
    }
}

/// <summary>
/// A stored document newer than this replica understands: another replica runs a newer release. Answered as 503 with
/// <c>Retry-After</c> (the client retries, most likely on an upgraded replica) and never rewritten by this replica.
/// </summary>
public sealed class StoredSchemaTooNewException : ApiException
{
    public StoredSchemaTooNewException(string kind, int version, int supported)
        : base(HttpStatusCode.ServiceUnavailable, ArmErrorCodes.ServiceUnavailable, $"This replica understands {kind} documents up to schema version {supported}, but version {version} is stored: an upgrade is in progress; retry the request.")
    {
        Kind = kind;
        Version = version;
        RetryAfterSeconds = 1;
    }

    public string Kind { get; }

    public int Version { get; }
}
