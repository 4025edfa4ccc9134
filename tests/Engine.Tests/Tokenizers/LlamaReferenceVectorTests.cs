using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>llama.cpp's 46 Llama-2 tokenizer test vectors (produced with the HF tokenizer), through each of the three
/// ways to load the Llama-2 vocabulary.</summary>
public class LlamaReferenceVectorTests
{
    [Theory]
    [InlineData("model")]
    [InlineData("bin")]
    [InlineData("gguf")]
    public void Encode_ReproducesAll46ReferenceLines(string format)
    {
        var tokenizer = TokenizerAssets.Llama2(format);
        var cases = TokenizerAssets.LlamaSpmCases();
        var failures = new List<string>();
        for (int i = 0; i < cases.Length; i++)
        {
            var got = tokenizer.Encode(cases[i].Text);
            if (!got.SequenceEqual(cases[i].Ids))
                failures.Add($"#{i} {System.Text.Json.JsonSerializer.Serialize(cases[i].Text)}\n  got      {string.Join(' ', got)}\n  expected {string.Join(' ', cases[i].Ids)}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Length} differ:\n" + string.Join('\n', failures));
    }

    [Theory]
    [InlineData("model")]
    [InlineData("bin")]
    [InlineData("gguf")]
    public void Decode_OfEncode_GivesBackEveryReferenceString(string format)
    {
        var tokenizer = TokenizerAssets.Llama2(format);
        foreach (var (text, ids) in TokenizerAssets.LlamaSpmCases())
            Assert.Equal(text, tokenizer.Decode(ids));
    }
}
