using System.Buffers;

namespace Holdfast.State.Etcd.Client;

/// <summary>
/// Writes the protocol-buffers wire format (varints, length-delimited fields) for the few etcd messages the store
/// sends. Scalars at their default value are left out, as proto3 does; <see cref="Message"/> always writes its field
/// (a oneof member must be present even when empty).
/// </summary>
internal sealed class ProtoWriter
{
    private const int Varint = 0;
    private const int LengthDelimited = 2;
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public void Int64(int field, long value)
    {
        if (value != 0)
        {
            Int64Always(field, value);
        }
    }

    /// <summary>Written even when 0: a oneof member's presence is its meaning.</summary>
    public void Int64Always(int field, long value)
    {
        Tag(field, Varint);
        WriteVarint(unchecked((ulong)value));
    }

    public void Bool(int field, bool value)
    {
        if (value)
        {
            Tag(field, Varint);
            WriteVarint(1);
        }
    }

    public void Enum(int field, int value) => Int64(field, value);

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        if (!value.IsEmpty)
        {
            BytesAlways(field, value);
        }
    }

    public void BytesAlways(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, LengthDelimited);
        WriteVarint((ulong)value.Length);
        _buffer.Write(value);
    }

    /// <summary>A nested message, written by <paramref name="write"/> into a writer of its own and copied in with its length.</summary>
    public void Message<T>(int field, T value, Action<ProtoWriter, T> write)
    {
        var nested = new ProtoWriter();
        write(nested, value);
        BytesAlways(field, nested.WrittenSpan);
    }

    private void Tag(int field, int wireType) => WriteVarint((ulong)((field << 3) | wireType));

    private void WriteVarint(ulong value)
    {
        var span = _buffer.GetSpan(10);
        var length = 0;
        while (value >= 0x80)
        {
            span[length++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[length++] = (byte)value;
        _buffer.Advance(length);
    }
}
