using System.Text;
using System.Text.Unicode;

namespace Engine.Data;

/// <summary>Opening data files and reading them in bounded pieces: the readers stream, so memory does not grow with the
/// file; one record (JSON value, JSONL/text line, CSV row, text block) may not exceed <see cref="MaxRecordBytes"/>.
/// Text must be UTF-8 (as Hugging Face datasets requires): invalid bytes are refused with their line and offset, never
/// replaced.</summary>
internal static class DataInput
{
    /// <summary>The largest single record, line or text block a reader accepts (64 MiB).</summary>
    public const int MaxRecordBytes = 64 << 20;

    public const string MaxRecordText = "64 MiB";

    /// <summary>Opens <paramref name="path"/> for reading, or fails naming it: a folder, a missing file, a device or pipe
    /// (the readers may read a file twice, and /dev/zero never ends).</summary>
    public static Stream Open(string path)
    {
        if (Directory.Exists(path))
            throw new DataFormatException(path, null, null, null, "is a directory; expected a data file (.json, .jsonl, .csv or .txt)");
        if (!File.Exists(path)) throw new DataFormatException(path, null, null, null, "file not found");
        FileStream stream;
        try { stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(path, null, null, null, $"cannot read the file: {e.Message}", e);
        }
        try
        {
            if (stream.Length == 0 && stream.ReadByte() >= 0)
                throw new DataFormatException(path, null, null, null,
                    "is not a regular file (a device or a pipe: it reports no size but yields data); expected a data file");
            stream.Position = 0;
        }
        catch (Exception e) when (e is IOException or NotSupportedException)
        {
            stream.Dispose();
            throw new DataFormatException(path, null, null, null, "is not a regular file (it cannot be read from the start again); expected a data file", e);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        return stream;
    }

    /// <summary>Moves the pending bytes buffer[start..end) to the front (adding what was dropped to
    /// <paramref name="bufferOffset"/>), grows the buffer when full (up to one record plus a chunk), and reads more.</summary>
    public static void Refill(Stream stream, ref byte[] buffer, ref int start, ref int end, ref long bufferOffset, ref bool eof)
    {
        if (start > 0)
        {
            Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
            bufferOffset += start;
            end -= start;
            start = 0;
        }
        if (end == buffer.Length) Array.Resize(ref buffer, Math.Min(buffer.Length * 2, MaxRecordBytes + (1 << 16)));
        int n = stream.Read(buffer, end, buffer.Length - end);
        if (n == 0) eof = true;
        end += n;
    }

    /// <summary>"not valid UTF-8 at line L, byte C (0xNN at file offset O)..." for the byte at <paramref name="offset"/>.</summary>
    public static string Utf8Problem(long line, long column, byte value, long offset) =>
        $"not valid UTF-8 at line {line}, byte {column} (0x{value:X2} at file offset {offset}); data files must be UTF-8 " +
        "(convert it first, e.g. iconv -f latin1 -t utf-8)";
}

/// <summary>The lines of a stream as bytes, split at '\n' (the '\n' not included), read through a bounded buffer. A
/// line longer than <see cref="DataInput.MaxRecordBytes"/> is an error naming it.</summary>
internal sealed class ByteLineReader
{
    private readonly Stream _stream;
    private readonly string _path;
    private byte[] _buffer = new byte[1 << 16];
    private int _start, _end;
    private bool _eof;
    private long _bufferOffset;

    public ByteLineReader(Stream stream, string path)
    {
        _stream = stream;
        _path = path;
    }

    /// <summary>1-based number of the line last returned.</summary>
    public long Line { get; private set; }

    /// <summary>File offset of the first byte of the line last returned.</summary>
    public long LineOffset { get; private set; }

    /// <summary>The next line, valid until the next call; false at the end of the stream.</summary>
    public bool TryRead(out ReadOnlySpan<byte> line)
    {
        int searchFrom = _start;
        while (true)
        {
            int nl = _buffer.AsSpan(searchFrom, _end - searchFrom).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                int at = searchFrom + nl;
                line = Take(at - _start, 1);
                return true;
            }
            if (_eof)
            {
                if (_start == _end) { line = default; return false; }
                line = Take(_end - _start, 0);
                return true;
            }
            if (_end - _start > DataInput.MaxRecordBytes) TooLong();
            int scanned = _end - _start;
            Fill();
            searchFrom = _start + scanned;
        }
    }

    private ReadOnlySpan<byte> Take(int length, int separator)
    {
        if (length > DataInput.MaxRecordBytes) TooLong();
        Line++;
        LineOffset = _bufferOffset + _start;
        var span = _buffer.AsSpan(_start, length);
        _start += length + separator;
        return span;
    }

    private void TooLong() =>
        throw new DataFormatException(_path, null, null, null,
            $"line {Line + 1} (from file offset {_bufferOffset + _start}) is longer than {DataInput.MaxRecordText}; no record may be that large");

    private void Fill() => DataInput.Refill(_stream, ref _buffer, ref _start, ref _end, ref _bufferOffset, ref _eof);
}

/// <summary>Characters of a UTF-8 stream, decoded strictly in bounded chunks: invalid bytes throw a
/// <see cref="DataFormatException"/> naming the line (counted at '\n') and the file offset.</summary>
internal sealed class StrictUtf8CharReader
{
    private readonly Stream _stream;
    private readonly string _path;
    private readonly byte[] _bytes = new byte[1 << 16];
    private readonly char[] _chars = new char[1 << 16];
    private int _byteCount, _charPos, _charCount;
    private long _bytesBefore, _linesBefore, _lineStart;
    private bool _eof, _started;

    public StrictUtf8CharReader(Stream stream, string path)
    {
        _stream = stream;
        _path = path;
    }

    /// <summary>The next character, or −1 at the end.</summary>
    public int Read()
    {
        if (_charPos == _charCount && !Decode()) return -1;
        return _chars[_charPos++];
    }

    /// <summary>The next character without consuming it, or −1 at the end.</summary>
    public int Peek()
    {
        if (_charPos == _charCount && !Decode()) return -1;
        return _chars[_charPos];
    }

    private bool Decode()
    {
        while (true)
        {
            if (!_eof && _byteCount < _bytes.Length)
            {
                int n = _stream.Read(_bytes, _byteCount, _bytes.Length - _byteCount);
                if (n == 0) _eof = true;
                _byteCount += n;
            }
            var src = _bytes.AsSpan(0, _byteCount);
            if (!_started)
            {
                if (!_eof && _byteCount < 3) continue;
                _started = true;
                if (src.StartsWith("\uFEFF"u8)) { Consume(3); continue; }
            }
            var status = Utf8.ToUtf16(src, _chars, out int read, out int written, replaceInvalidSequences: false, isFinalBlock: _eof);
            if (written > 0)
            {
                // The valid prefix first; invalid data, if any, is met on the next call with nothing before it.
                Consume(read);
                _charPos = 0;
                _charCount = written;
                return true;
            }
            if (status == System.Buffers.OperationStatus.InvalidData)
            {
                var before = src[..read];
                long line = _linesBefore + before.Count((byte)'\n') + 1;
                int lastNl = before.LastIndexOf((byte)'\n');
                long lineStart = lastNl >= 0 ? _bytesBefore + lastNl + 1 : _lineStart;
                long offset = _bytesBefore + read;
                throw new DataFormatException(_path, null, null, null, DataInput.Utf8Problem(line, offset - lineStart + 1, src[read], offset));
            }
            if (_eof && _byteCount == 0) return false;
        }
    }

    private void Consume(int read)
    {
        var done = _bytes.AsSpan(0, read);
        int nl = done.Count((byte)'\n');
        if (nl > 0)
        {
            _linesBefore += nl;
            _lineStart = _bytesBefore + done.LastIndexOf((byte)'\n') + 1;
        }
        _bytesBefore += read;
        Buffer.BlockCopy(_bytes, read, _bytes, 0, _byteCount - read);
        _byteCount -= read;
    }
}
