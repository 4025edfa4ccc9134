using System.Text.Json;
using Engine.Formats;

namespace Engine.Data;

/// <summary>One top-level record of a JSON array or JSONL file.</summary>
/// <param name="Line">1-based line where the record starts.</param>
internal readonly record struct JsonRecord(int Index, int Line, JsonElement Value);

/// <summary>Streams the records of a JSON array or a JSONL file (each stream is disposed at the end), turning syntax errors into a
/// <see cref="DataFormatException"/> that names the record being read and the line/byte where parsing stopped.</summary>
internal static class JsonRecords
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Skip };
    private static readonly JsonDocumentOptions DocumentOptions = new() { CommentHandling = JsonCommentHandling.Skip };

    /// <summary>Records of a document whose first significant character is '[', read one element at a time through a
    /// bounded buffer (an element may not exceed <see cref="DataInput.MaxRecordBytes"/>).</summary>
    public static IEnumerable<JsonRecord> ReadArray(string path, Stream stream)
    {
        using var owned = stream;
        var reader = new ArrayReader(path, stream);
        while (reader.TryNext(out var record)) yield return record;
    }

    /// <summary>Records of a JSON Lines stream: one JSON value per non-blank line (a line may not exceed
    /// <see cref="DataInput.MaxRecordBytes"/>).</summary>
    public static IEnumerable<JsonRecord> ReadLines(string path, Stream stream)
    {
        using var owned = stream;
        var lines = new ByteLineReader(stream, path);
        int index = 0;
        while (true)
        {
            JsonRecord record;
            if (!lines.TryRead(out var text)) yield break;
            if (IsBlank(text)) continue;
            int line = (int)Math.Min(lines.Line, int.MaxValue);
            int bad = Utf8Scan.FirstInvalid(text);
            if (bad >= 0)
                throw new DataFormatException(path, index, null, null, DataInput.Utf8Problem(lines.Line, bad + 1, text[bad], lines.LineOffset + bad));
            try
            {
                var reader = new Utf8JsonReader(text, ReaderOptions);
                using var doc = JsonDocument.ParseValue(ref reader);
                if (reader.Read())
                    throw new DataFormatException(path, index, null, null, $"invalid JSON at line {line}: more than one value on the line (JSONL holds one record per line)");
                record = new JsonRecord(index, line, doc.RootElement.Clone());
            }
            catch (JsonException e)
            {
                throw new DataFormatException(path, index, null, null, Describe(e, lineOffset: line - 1), e);
            }
            index++;
            yield return record;
        }
    }

    /// <summary>Streams the elements of a top-level JSON array: the buffer holds at most one element (plus a read chunk),
    /// and the reader state carries line numbers across refills, so errors name the line in the file.</summary>
    private sealed class ArrayReader(string path, Stream stream)
    {
        private byte[] _buffer = new byte[1 << 16];
        private int _start, _end, _index;
        private long _bufferOffset, _lines = 1, _lineStart;
        private bool _eof, _opened, _closed;
        private JsonReaderState _state = new(ReaderOptions);

        public bool TryNext(out JsonRecord record)
        {
            record = default;
            if (_closed) return false;
            while (true)
            {
                try
                {
                    var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _eof, _state);
                    if (!reader.Read())
                    {
                        if (_eof)
                        {
                            if (!_opened) throw new DataFormatException(path, null, null, null, "expected a JSON array of records");
                            throw new DataFormatException(path, _index, null, null, "invalid JSON: the array is not closed (file truncated?)");
                        }
                    }
                    else if (!_opened)
                    {
                        if (reader.TokenType != JsonTokenType.StartArray)
                            throw new DataFormatException(path, null, null, null, "expected a JSON array of records");
                        _opened = true;
                        Consume(ref reader);
                        continue;
                    }
                    else if (reader.TokenType == JsonTokenType.EndArray)
                    {
                        Consume(ref reader);
                        CheckNothingFollows();
                        _closed = true;
                        return false;
                    }
                    else
                    {
                        var copy = reader;
                        if (copy.TrySkip())
                        {
                            int from = (int)reader.TokenStartIndex, to = (int)copy.BytesConsumed;
                            if (to - from > DataInput.MaxRecordBytes) TooLarge();
                            var slice = _buffer.AsSpan(_start + from, to - from);
                            int bad = Utf8Scan.FirstInvalid(slice);
                            if (bad >= 0) throw Utf8Error(from + bad);
                            long line = _lines + _buffer.AsSpan(_start, from).Count((byte)'\n');
                            using (var doc = JsonDocument.ParseValue(ref reader))
                                record = new JsonRecord(_index, (int)Math.Min(line, int.MaxValue), doc.RootElement.Clone());
                            Consume(ref reader);
                            _index++;
                            return true;
                        }
                    }
                }
                catch (JsonException e)
                {
                    throw new DataFormatException(path, _opened ? _index : null, null, null, Describe(e, lineOffset: 0), e);
                }
                Refill();
            }
        }

        private void CheckNothingFollows()
        {
            while (true)
            {
                var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _eof, _state);
                bool more;
                try { more = reader.Read(); }
                catch (JsonException e) { throw new DataFormatException(path, null, null, null, Describe(e, lineOffset: 0), e); }
                if (more)
                    throw new DataFormatException(path, null, null, null,
                        $"invalid JSON: unexpected {reader.TokenType} after the closing ']' at line {_lines + _buffer.AsSpan(_start, (int)reader.TokenStartIndex).Count((byte)'\n')}");
                if (_eof) return;
                Consume(ref reader);
                Refill();
            }
        }

        private void Consume(ref Utf8JsonReader reader)
        {
            int n = (int)reader.BytesConsumed;
            var done = _buffer.AsSpan(_start, n);
            int nl = done.Count((byte)'\n');
            if (nl > 0)
            {
                _lines += nl;
                _lineStart = _bufferOffset + _start + done.LastIndexOf((byte)'\n') + 1;
            }
            _start += n;
            _state = reader.CurrentState;
        }

        private DataFormatException Utf8Error(int at)
        {
            var before = _buffer.AsSpan(_start, at);
            long line = _lines + before.Count((byte)'\n');
            int lastNl = before.LastIndexOf((byte)'\n');
            long lineStart = lastNl >= 0 ? _bufferOffset + _start + lastNl + 1 : _lineStart;
            long offset = _bufferOffset + _start + at;
            return new DataFormatException(path, _index, null, null, DataInput.Utf8Problem(line, offset - lineStart + 1, _buffer[_start + at], offset));
        }

        // The record starts after whitespace at _start; the message names where that is.
        private void TooLarge()
        {
            var pending = _buffer.AsSpan(_start, _end - _start);
            int skip = Math.Max(0, pending.IndexOfAnyExcept(" \t\r\n,"u8));
            long line = _lines + pending[..skip].Count((byte)'\n');
            throw new DataFormatException(path, _index, null, null,
                $"the record at line {line} (file offset {_bufferOffset + _start + skip}) is larger than {DataInput.MaxRecordText}; no record may be that large (one record per line in a .jsonl file has the same limit)");
        }

        private void Refill()
        {
            if (_end - _start > DataInput.MaxRecordBytes) TooLarge();
            DataInput.Refill(stream, ref _buffer, ref _start, ref _end, ref _bufferOffset, ref _eof);
        }
    }

    /// <summary>JSON text must be UTF-8 and its strings must decode; System.Text.Json checks a string only when it
    /// is read, so a bad byte is caught here, naming the record and line, rather than by whoever reads it.</summary>
    private static void CheckText(string path, int index, int line, JsonElement record)
    {
        if (Formats.JsonText.FindInvalidString(record) is string bad)
            throw new DataFormatException(path, index, null, null, $"{bad} (record starting at line {line})");
    }

    private static string Describe(JsonException e, int lineOffset)
    {
        // JsonException.Message ends with "LineNumber: n | BytePositionInLine: m."; we restate the position 1-based.
        var msg = e.Message;
        int cut = msg.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut > 0) msg = msg[..cut].TrimEnd();
        long line = (e.LineNumber ?? 0) + 1 + lineOffset;
        long pos = (e.BytePositionInLine ?? 0) + 1;
        return $"invalid JSON at line {line}, byte {pos}: {msg}";
    }

    private static bool IsBlank(ReadOnlySpan<byte> s)
    {
        foreach (var b in s) if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r')) return false;
        return true;
    }
}
