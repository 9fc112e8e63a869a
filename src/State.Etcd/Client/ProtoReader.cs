namespace Holdfast.State.Etcd.Client;

/// <summary>
/// Reads the protocol-buffers wire format field by field. Unknown fields are skipped, so newer etcd versions that add
/// fields stay readable; a truncated or malformed message is an <see cref="InvalidDataException"/>.
/// </summary>
internal ref struct ProtoReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;
    private int _wireType;

    /// <summary>Moves to the next field; false at the end of the message.</summary>
    public bool Next(out int field)
    {
        if (_position >= _data.Length)
        {
            field = 0;
            return false;
        }

        var tag = ReadVarint();
        field = (int)(tag >> 3);
        _wireType = (int)(tag & 7);
        if (field <= 0)
        {
            throw new InvalidDataException("etcd sent a protocol-buffers field numbered 0.");
        }

        return true;
    }

    public long Int64()
    {
        if (_wireType != 0)
        {
            throw new InvalidDataException($"etcd sent wire type {_wireType} where a varint was expected.");
        }

        return unchecked((long)ReadVarint());
    }

    public bool Bool() => Int64() != 0;

    public ReadOnlySpan<byte> Bytes()
    {
        if (_wireType != 2)
        {
            throw new InvalidDataException($"etcd sent wire type {_wireType} where bytes were expected.");
        }

        var length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw new InvalidDataException("etcd sent a truncated protocol-buffers message.");
        }

        var value = _data.Slice(_position, (int)length);
        _position += (int)length;
        return value;
    }

    public string String() => System.Text.Encoding.UTF8.GetString(Bytes());

    /// <summary>Skips the current field's value.</summary>
    public void Skip()
    {
        switch (_wireType)
        {
            case 0:
                ReadVarint();
                break;
            case 1:
                Advance(8);
                break;
            case 2:
                Bytes();
                break;
            case 5:
                Advance(4);
                break;
            default:
                throw new InvalidDataException($"etcd sent unsupported protocol-buffers wire type {_wireType}.");
        }
    }

    private void Advance(int count)
    {
        if (count > _data.Length - _position)
        {
            throw new InvalidDataException("etcd sent a truncated protocol-buffers message.");
        }

        _position += count;
    }

    private ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
            {
                throw new InvalidDataException("etcd sent a truncated protocol-buffers varint.");
            }

            var b = _data[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new InvalidDataException("etcd sent a protocol-buffers varint longer than 10 bytes.");
    }
}
