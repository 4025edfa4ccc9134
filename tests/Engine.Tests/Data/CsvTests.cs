using Engine.Data;
using Engine.Tests.Support;

namespace Engine.Tests.Data;

public class CsvTests
{
    private static Dataset Read(string content) => DataTestUtil.ReadFile("d.csv", content);

    [Fact]
    public void Rfc4180_quotes_escaped_quotes_commas_and_newlines_inside_fields()
    {
        var d = Read("id,text,label\r\n" +
                     "1,plain,x\r\n" +
                     "2,\"with, comma\",y\r\n" +
                     "3,\"she said \"\"hi\"\"\",z\r\n" +
                     "4,\"two\r\nlines\nand more\",w\r\n" +
                     "5,\"\",v\r\n" +
                     "6,\"last\",\"\"");
        Assert.Equal(DataFormat.Text, d.Format);
        var s = d.Samples.Cast<TextSample>().ToList();
        Assert.Equal(new[] { "plain", "with, comma", "she said \"hi\"", "two\r\nlines\nand more", "last" }, s.Select(x => x.Text));
        Assert.Equal(new[] { "1", "2", "3", "4", "6" }, s.Select(x => x.Id));
        Assert.Equal(new[] { 0, 1, 2, 3, 5 }, s.Select(x => x.Index));
        Assert.Contains("1 row(s) with an empty \"text\" were skipped", d.Notes);
    }

    [Fact]
    public void Text_column_anywhere_and_case_insensitive_and_blank_lines_skipped()
    {
        var d = Read("Text\nalpha\n\nbeta\n");
        Assert.Equal(new[] { "alpha", "beta" }, d.Samples.Cast<TextSample>().Select(x => x.Text));
    }

    [Fact]
    public void Quote_inside_unquoted_field_is_data()
    {
        Assert.Equal("5\" screen", ((TextSample)Read("text\n5\" screen\n").Samples[0]).Text);
    }

    [Fact]
    public void Wrong_field_count_names_record_and_line()
    {
        using var dir = new TempDir();
        var path = dir.File("d.csv");
        File.WriteAllText(path, "id,text\na,\"multi\nline\"\nb,x,extra\n");
        var ex = Assert.Throws<DataFormatException>(() => DataReader.Read(path));
        Assert.Equal($"{path}: record 1 (id \"b\"), field line 4: the row has 3 fields, the header has 2", ex.Message);
    }

    [Fact]
    public void Unclosed_quote_and_text_after_closing_quote()
    {
        using var dir = new TempDir();
        var path = dir.File("d.csv");
        File.WriteAllText(path, "text\nok\n\"never closed\nstill\n");
        var ex = Assert.Throws<DataFormatException>(() => DataReader.Read(path));
        Assert.Equal($"{path}: record 1, field line 3: a quoted field is not closed before the end of the file", ex.Message);

        File.WriteAllText(path, "text\n\"ab\"c\n");
        ex = Assert.Throws<DataFormatException>(() => DataReader.Read(path));
        Assert.Contains("record 0, field line 2: unexpected 'c' after a closing quote", ex.Message);
    }
}
