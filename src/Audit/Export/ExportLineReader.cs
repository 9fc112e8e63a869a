using System.Buffers;

namespace Holdfast.Audit.Export;

/// <summary>Splits a stream into lines on <c>\n</c> (the newline itself is not returned), refusing lines over a size limit.</summary>
internal sealed class ExportLineReader(Stream source, int maxLineBytes)
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly ArrayBufferWriter<byte> _line = new();
    private int _start;
    private int _end;
    private bool _atEnd;

    /// <summary>True once a line longer than the limit was met; <see cref="ReadLineAsync"/> then returns null.</summary>
    public bool LineTooLong { get; private set; }

    /// <summary>The next line, or null at the end of the stream (or after an over-long line).</summary>
    public async ValueTask<byte[]?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (!LineTooLong)
        {
            if (_start < _end)
            {
                var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                var stop = newline < 0 ? _end : newline;
                if (_line.WrittenCount + (stop - _start) > maxLineBytes)
                {
                    LineTooLong = true;
                    return null;
                }

                _line.Write(_buffer.AsSpan(_start, stop - _start));
                _start = newline < 0 ? _end : newline + 1;
                if (newline >= 0)
                {
                    return Take();
                }
            }

            if (_atEnd)
            {
                return _line.WrittenCount > 0 ? Take() : null;
            }

            _start = 0;
            _end = await source.ReadAsync(_buffer, cancellationToken);
            _atEnd = _end == 0;
        }

        return null;
    }

    private byte[] Take()
    {
        var line = _line.WrittenSpan.ToArray();
        _line.ResetWrittenCount();
        return line;
    }
}
