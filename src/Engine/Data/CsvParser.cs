using System.Text;

namespace Engine.Data;

/// <summary>One CSV row with the 1-based line it starts on.</summary>
internal readonly record struct CsvRow(int Line, string[] Fields);

/// <summary>RFC 4180 CSV: comma-separated fields, optionally in double quotes; inside quotes a doubled quote is a quote
/// and commas/line breaks are data. Rows end at CRLF, LF or CR. Entirely empty lines are skipped. A quote inside an
/// unquoted field is kept as data (lenient: writers never produce it, hand-edited files sometimes do). Rows are read one
/// at a time from a strict UTF-8 stream; a row may not exceed <see cref="DataInput.MaxRecordBytes"/> characters.</summary>
internal static class CsvParser
{
    public static List<CsvRow> Parse(string path, string text) =>
        Parse(path, new StrictUtf8CharReader(new MemoryStream(Encoding.UTF8.GetBytes(text)), path)).ToList();

    public static IEnumerable<CsvRow> Parse(string path, StrictUtf8CharReader text)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, rowCount = 0;
        while (text.Peek() >= 0)
        {
            int rowLine = line;
            bool anyQuoted = false;
            long rowChars = 0;
            fields.Clear();
            while (true)
            {
                field.Clear();
                if (text.Peek() == '"')
                {
                    anyQuoted = true;
                    int quoteLine = line;
                    text.Read();
                    while (true)
                    {
                        int q = text.Read();
                        if (q < 0)
                            throw Error(path, rowCount, $"line {quoteLine}", "a quoted field is not closed before the end of the file");
                        if (q == '"')
                        {
                            if (text.Peek() == '"') { Append(field, '"'); text.Read(); continue; }
                            break;
                        }
                        if (q == '\n' || (q == '\r' && text.Peek() != '\n')) line++;
                        Append(field, (char)q);
                    }
                    int next = text.Peek();
                    if (next >= 0 && next is not (',' or '\r' or '\n'))
                        throw Error(path, rowCount, $"line {line}",
                            $"unexpected '{(char)next}' after a closing quote; expected a comma or the end of the line (a quote inside a quoted field is written \"\")");
                }
                else
                {
                    while (text.Peek() is int c && c >= 0 && c is not (',' or '\r' or '\n')) Append(field, (char)text.Read());
                }
                fields.Add(field.ToString());
                int end = text.Read();
                if (end == ',') continue;
                if (end == '\r' && text.Peek() == '\n') text.Read();
                if (end >= 0) line++;
                break;
            }
            bool blankLine = fields.Count == 1 && fields[0].Length == 0 && !anyQuoted;
            if (!blankLine)
            {
                yield return new CsvRow(rowLine, fields.ToArray());
                rowCount++;
            }

            void Append(StringBuilder sb, char c)
            {
                if (++rowChars > DataInput.MaxRecordBytes)
                    throw Error(path, rowCount, $"line {rowLine}", $"the row is longer than {DataInput.MaxRecordText}; no record may be that large");
                sb.Append(c);
            }
        }
    }

    // Row 0 is the header, so the row being parsed is data record rowCount - 1.
    private static DataFormatException Error(string path, int rowCount, string where, string problem) =>
        new(path, rowCount == 0 ? null : rowCount - 1, null, rowCount == 0 ? $"header ({where})" : where, problem);
}
