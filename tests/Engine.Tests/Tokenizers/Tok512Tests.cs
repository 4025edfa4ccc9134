using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>stories260K's 512-piece tokenizer, as tokenizer.model (SentencePiece) and tokenizer.bin (llama2.c).</summary>
public class Tok512Tests
{
    [Fact]
    public void OnceUponATime_EncodesToTheIdsOfTheReferenceLogits()
    {
        // reference_logits_once_upon_a_time.json: BOS + [403, 407, 261, 378].
        Assert.Equal([403, 407, 261, 378], TokenizerAssets.Tok512Bin.Encode("Once upon a time"));
        Assert.Equal([403, 407, 261, 378], TokenizerAssets.Tok512Model.Encode("Once upon a time"));
        Assert.Equal(["▁Once", "▁upon", "▁a", "▁time"], TinyVocab.Pieces(TokenizerAssets.Tok512Model, "Once upon a time"));
    }

    [Fact]
    public void BinAndModel_GiveIdenticalIds_OnTinyStoriesAndOtherText()
    {
        var sample = TokenizerAssets.TinyStoriesSample;
        var texts = new List<string>
        {
            sample, sample.Trim(), "Once upon a time", "Hello world!", "The cat sat on the mat.\nIt was happy.",
            "Lily said, \"Can I have 3 apples?\" Mom said: yes!", "naïve café 😀 日本", "\tTabs\tand\nnewlines\n", "x",
        };
        texts.AddRange(sample.Split("<|endoftext|>").Select(s => s.Trim()).Where(s => s.Length > 0));
        Assert.True(texts.Count >= 13);
        foreach (var text in texts)
        {
            var fromBin = TokenizerAssets.Tok512Bin.Encode(text);
            Assert.True(fromBin.Length > 0);
            Assert.Equal(TokenizerAssets.Tok512Model.Encode(text), fromBin);
        }
    }

    [Fact]
    public void StoryTokenCounts_MatchTheNllReference()
    {
        // reference_nll_tinystories_sample.json: each story stripped and encoded (llama2.c encode) gives these counts.
        int[] expected = [373, 329, 222, 424, 456];
        var stories = TokenizerAssets.TinyStoriesSample.Split("<|endoftext|>").Select(s => s.Trim()).Where(s => s.Length > 0).ToArray();
        Assert.Equal(expected, stories.Select(s => TokenizerAssets.Tok512Bin.Encode(s).Length).ToArray());
        Assert.Equal(expected, stories.Select(s => TokenizerAssets.Tok512Model.Encode(s).Length).ToArray());
    }

    [Fact]
    public void GreedyReferenceIds_DecodeToTheReferenceText()
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Support.SharedData.Require("stories260K/reference_greedy_256.json")));
        var ids = doc.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        string text = doc.RootElement.GetProperty("text").GetString()!;
        Assert.Equal(257, ids.Length);
        Assert.Equal(1, ids[0]);
        Assert.StartsWith("Once upon a time, there was a little girl named Lily.", text);
        foreach (var t in new VocabularyTokenizer[] { TokenizerAssets.Tok512Bin, TokenizerAssets.Tok512Model })
        {
            Assert.Equal(text, t.Decode(ids));
            var stream = t.CreateStreamDecoder();
            Assert.Equal(text, string.Concat(ids.Select(stream.Append)) + stream.Flush());
        }
    }

    [Fact]
    public void ExtraSpaces_AreCollapsedByTheModel_ButKeptByLlama2cSemantics()
    {
        // tok512.model has normalizer_spec.remove_extra_whitespaces = true (SentencePiece's default, which llama2.c's
        // train_vocab leaves on), while llama2.c's encode() never removes spaces.
        var model = TokenizerAssets.Tok512Model;
        var bin = TokenizerAssets.Tok512Bin;
        Assert.True(model.RemoveExtraWhitespaces);
        Assert.False(bin.RemoveExtraWhitespaces);
        Assert.Equal(model.Encode("Once upon"), model.Encode("  Once   upon "));
        Assert.NotEqual(bin.Encode("Once upon"), bin.Encode("  Once   upon "));
        Assert.Equal("  Once   upon ", bin.Decode(bin.Encode("  Once   upon ")));
        Assert.Equal("Once upon", model.Decode(model.Encode("  Once   upon ")));
    }
}
