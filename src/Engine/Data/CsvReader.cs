namespace Engine.Data;

/// <summary>A CSV file with a header row and a "text" column (matched exactly, else case-insensitively); an "id" column,
/// when present, names records in error messages. Rows are read and returned one at a time.</summary>
internal static class CsvReader
{
    /// <summary>The samples of the rows; <paramref name="blankRows"/> is called once at the end with the number of rows
    /// whose "text" was blank (they are skipped).</summary>
    public static IEnumerable<TextSample> Read(string path, IEnumerable<CsvRow> rows, Action<int> blankRows)
    {
        using var e = rows.GetEnumerator();
        if (!e.MoveNext()) throw new DataFormatException(path, null, null, null, "the file is empty");
        var header = e.Current.Fields;
        int textCol = FindColumn(header, "text");
        if (textCol < 0)
            throw new DataFormatException(path, null, null, "header",
                $"no \"text\" column (columns found: {string.Join(", ", header.Select(h => $"\"{h}\""))})");
        int idCol = FindColumn(header, "id");

        int r = 0, blank = 0;
        while (e.MoveNext())
        {
            var row = e.Current;
            string? id = idCol >= 0 && idCol < row.Fields.Length ? row.Fields[idCol] : null;
            if (row.Fields.Length != header.Length)
                throw new DataFormatException(path, r, id, $"line {row.Line}",
                    $"the row has {row.Fields.Length} fields, the header has {header.Length}");
            var value = row.Fields[textCol];
            if (string.IsNullOrWhiteSpace(value)) blank++;
            else yield return new TextSample(r, id, value);
            r++;
        }
        if (r == 0) throw new DataFormatException(path, null, null, null, "the dataset is empty: the file has a header row and no data rows");
        blankRows(blank);
    }

    private static int FindColumn(string[] header, string name)
    {
        int exact = Array.IndexOf(header, name);
        if (exact >= 0) return exact;
        return Array.FindIndex(header, h => string.Equals(h.Trim(), name, StringComparison.OrdinalIgnoreCase));
    }
}
