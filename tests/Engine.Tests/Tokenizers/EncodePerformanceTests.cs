using System.Diagnostics;
using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>The whole 794 KB TinyStories validation head as one string: the priority-queue merges keep this to well
/// under a second (the bound below leaves room for a loaded 2-core machine; an O(n²) merge loop takes minutes).</summary>
public class EncodePerformanceTests(ITestOutputHelper output)
{
    [Fact]
    public void LongText_EncodesQuickly_AndRoundTrips()
    {
        string text = File.ReadAllText(SharedData.Require("datasets/tinystories_validation_head.txt"));
        Assert.Equal(793451, text.Length);
        var model = TokenizerAssets.Tok512Model;
        var bin = TokenizerAssets.Tok512Bin;
        model.Encode("warm up");

        var sw = Stopwatch.StartNew();
        var ids = model.Encode(text);
        sw.Stop();
        output.WriteLine($"tok512.model: {text.Length} chars -> {ids.Length} tokens in {sw.ElapsedMilliseconds} ms");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"encoding took {sw.Elapsed}");

        // tok512.model collapses runs of spaces (the text has a few); llama2.c semantics keep them.
        string collapsed = System.Text.RegularExpressions.Regex.Replace(text, " {2,}", " ");
        Assert.NotEqual(collapsed, text);
        Assert.Equal(bin.Encode(collapsed), ids);
        Assert.Equal(collapsed, model.Decode(ids));

        sw.Restart();
        var llamaIds = TokenizerAssets.Llama2Model.Encode(text);
        output.WriteLine($"llama2 tokenizer.model: {llamaIds.Length} tokens in {sw.ElapsedMilliseconds} ms");
        Assert.Equal(text, TokenizerAssets.Llama2Model.Decode(llamaIds));
    }
}
