namespace Engine.Data;

/// <summary>A CSV file with a header row and a "text" column (matched exactly, else case-insensitively); an "id" column,
/// when present, names records in error messages.</summary>
internal static class CsvReader
{
    public static List<TextSample> Read(string path, string text, out int blankRows)
    {
        var rows = CsvParser.Parse(path, text);
        blankRows = 0;
        if (rows.Count == 0) throw new DataFormatException(path, null, null, null, "the file is empty");
        var header = rows[0].Fields;
        int textCol = FindColumn(header, "text");
        if (textCol < 0)
            throw new DataFormatException(path, null, null, "header",
                $"no \"text\" column (columns found: {string.Join(", ", header.Select(h => $"\"{h}\""))})");
        int idCol = FindColumn(header, "id");

        var samples = new List<TextSample>(rows.Count - 1);
        for (int r = 1; r < rows.Count; r++)
        {
            var row = rows[r];
            string? id = idCol >= 0 && idCol < row.Fields.Length ? row.Fields[idCol] : null;
            if (row.Fields.Length != header.Length)
                throw new DataFormatException(path, r - 1, id, $"line {row.Line}",
                    $"the row has {row.Fields.Length} fields, the header has {header.Length}");
            var value = row.Fields[textCol];
            if (string.IsNullOrWhiteSpace(value)) { blankRows++; continue; }
            samples.Add(new TextSample(r - 1, id, value));
        }
        if (rows.Count == 1) throw new DataFormatException(path, null, null, null, "the dataset is empty: the file has a header row and no data rows");
        return samples;
    }

    private static int FindColumn(string[] header, string name)
    {
        int exact = Array.IndexOf(header, name);
        if (exact >= 0) return exact;
        return Array.FindIndex(header, h => string.Equals(h.Trim(), name, StringComparison.OrdinalIgnoreCase));
    }
}
