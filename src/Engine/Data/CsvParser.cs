using System.Text;

namespace Engine.Data;

/// <summary>One CSV row with the 1-based line it starts on.</summary>
internal readonly record struct CsvRow(int Line, string[] Fields);

/// <summary>RFC 4180 CSV: comma-separated fields, optionally in double quotes; inside quotes a doubled quote is a quote
/// and commas/line breaks are data. Rows end at CRLF, LF or CR. Entirely empty lines are skipped. A quote inside an
/// unquoted field is kept as data (lenient: writers never produce it, hand-edited files sometimes do).</summary>
internal static class CsvParser
{
    public static List<CsvRow> Parse(string path, string text)
    {
        var rows = new List<CsvRow>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int i = 0, n = text.Length, line = 1;
        while (i < n)
        {
            int rowLine = line;
            bool anyQuoted = false;
            fields.Clear();
            while (true)
            {
                field.Clear();
                if (i < n && text[i] == '"')
                {
                    anyQuoted = true;
                    int quoteLine = line;
                    i++;
                    while (true)
                    {
                        if (i >= n)
                            throw Error(path, rows, $"line {quoteLine}", "a quoted field is not closed before the end of the file");
                        char q = text[i++];
                        if (q == '"')
                        {
                            if (i < n && text[i] == '"') { field.Append('"'); i++; continue; }
                            break;
                        }
                        if (q == '\n' || (q == '\r' && (i >= n || text[i] != '\n'))) line++;
                        field.Append(q);
                    }
                    if (i < n && text[i] is not (',' or '\r' or '\n'))
                        throw Error(path, rows, $"line {line}",
                            $"unexpected '{text[i]}' after a closing quote; expected a comma or the end of the line (a quote inside a quoted field is written \"\")");
                }
                else
                {
                    while (i < n && text[i] is not (',' or '\r' or '\n')) field.Append(text[i++]);
                }
                fields.Add(field.ToString());
                if (i < n && text[i] == ',') { i++; continue; }
                if (i < n)
                {
                    i += text[i] == '\r' && i + 1 < n && text[i + 1] == '\n' ? 2 : 1;
                    line++;
                }
                break;
            }
            bool blankLine = fields.Count == 1 && fields[0].Length == 0 && !anyQuoted;
            if (!blankLine) rows.Add(new CsvRow(rowLine, fields.ToArray()));
        }
        return rows;
    }

    // rows[0] is the header, so the row being parsed is data record rows.Count - 1.
    private static DataFormatException Error(string path, List<CsvRow> rows, string where, string problem) =>
        new(path, rows.Count == 0 ? null : rows.Count - 1, null, rows.Count == 0 ? $"header ({where})" : where, problem);
}
