using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Holdfast.State.Snapshots;

/// <summary>
/// What a snapshot file says about itself. <see cref="Source"/> is the backend it was taken from (<c>sqlite</c>,
/// <c>etcd</c>, <c>memory</c>); <see cref="Revision"/> the one store revision every key was read at.
/// </summary>
public sealed record SnapshotHeader(
    [property: JsonPropertyName("formatVersion")] int FormatVersion,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("revision")] long Revision,
    [property: JsonPropertyName("keyCount")] long KeyCount,
    [property: JsonPropertyName("fileCount")] int FileCount,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt);

/// <summary>
/// A file carried beside the keys (a SQLite install's data-directory secrets): a relative path with '/' separators,
/// its Unix permission bits and its bytes.
/// </summary>
public sealed record SnapshotFile(string Path, int Mode, ReadOnlyMemory<byte> Content);

/// <summary>
/// The snapshot file layout (docs/operations.md). All integers little-endian.
/// <code>
/// "HOLDFAST-SNAPSHOT\n"                      18 bytes of magic
/// u32 n, n bytes                             header: UTF-8 JSON (<see cref="SnapshotHeader"/>)
/// 'F' u32 n path  u32 mode  u32 n content    one per file (fileCount)
/// 'K' u32 n key   u32 n value                one per key, in key order (keyCount)
/// 'E'                                        end of records
/// 32 bytes                                   SHA-256 of every byte above
/// </code>
/// </summary>
internal static class SnapshotFormat
{
    public const int Version = 1;
    public const byte FileRecord = (byte)'F';
    public const byte KeyRecord = (byte)'K';
    public const byte EndRecord = (byte)'E';
    public const int TrailerLength = 32;
    public const int MaxHeaderLength = 64 * 1024;
    public const int MaxKeyLength = 64 * 1024;
    public const int MaxValueLength = 256 * 1024 * 1024;
    public const int MaxFileLength = 16 * 1024 * 1024;
    public const int MaxPathLength = 1024;

    public static ReadOnlySpan<byte> Magic => "HOLDFAST-SNAPSHOT\n"u8;

    public static byte[] SerializeHeader(SnapshotHeader header) => JsonSerializer.SerializeToUtf8Bytes(header, SnapshotJsonContext.Default.SnapshotHeader);

    public static SnapshotHeader ParseHeader(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, SnapshotJsonContext.Default.SnapshotHeader)
                ?? throw new InvalidDataException("The snapshot header is empty.");
        }
        catch (JsonException exception)
        {
            throw new InvalidDataException("The snapshot header is not valid JSON: " + exception.Message, exception);
        }
    }

    /// <summary>A relative path of plain names, no '..', no root: safe to join under a directory.</summary>
    public static bool IsSafeRelativePath(string path) =>
        path.Length is > 0 and <= MaxPathLength
        && !path.StartsWith('/')
        && !path.Contains('\\', StringComparison.Ordinal)
        && !path.Contains('\0', StringComparison.Ordinal)
        && path.Split('/').All(part => part.Length > 0 && part != "." && part != "..");

    public static void WriteUInt32(Span<byte> destination, int value) => BinaryPrimitives.WriteUInt32LittleEndian(destination, checked((uint)value));

    public static string DecodeKey(ReadOnlySpan<byte> utf8)
    {
        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(utf8);
        }
        catch (DecoderFallbackException exception)
        {
            throw new InvalidDataException("A snapshot record holds a name that is not UTF-8.", exception);
        }
    }
}

[JsonSerializable(typeof(SnapshotHeader))]
internal sealed partial class SnapshotJsonContext : JsonSerializerContext;
