using System.Text.Json.Nodes;
using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>tokenizer.json parsing: options engine does not implement are refused naming the file, the JSON path and
/// the value; the split behaviors give the pieces of HF's documented example.</summary>
public class HfTokenizerFileTests
{
    private static JsonObject Minimal() => JsonNode.Parse("""
        {
          "version": "1.0", "truncation": null, "padding": null,
          "added_tokens": [ { "id": 3, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true } ],
          "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
          "model": { "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null, "end_of_word_suffix": null,
                     "fuse_unk": false, "byte_fallback": false, "vocab": { "a": 0, "b": 1, "ab": 2 }, "merges": [ "a b" ] }
        }
        """)!.AsObject();

    private static HfTokenizer Load(JsonObject json, TempDir dir)
    {
        var path = dir.File("tokenizer.json");
        File.WriteAllText(path, json.ToJsonString());
        return (HfTokenizer)TokenizerLoader.Load(path);
    }

    [Fact]
    public void Minimal_Encodes_WithBothMergeForms()
    {
        using var dir = new TempDir();
        Assert.Equal([2, 0], Load(Minimal(), dir).Encode("aba"));
        var pairForm = Minimal();
        pairForm["model"]!["merges"] = JsonNode.Parse("""[["a", "b"]]""");
        Assert.Equal([2, 0], Load(pairForm, dir).Encode("aba"));
    }

    [Theory]
    [InlineData("normalizer", """{"type": "BertNormalizer"}""", "normalizer.type: normalizer \"BertNormalizer\" is not supported")]
    [InlineData("pre_tokenizer", """{"type": "Whitespace"}""", "pre_tokenizer.type: pre-tokenizer \"Whitespace\" is not supported")]
    [InlineData("pre_tokenizer", """{"type": "ByteLevel", "add_prefix_space": false, "frobnicate": true}""", "pre_tokenizer.frobnicate: is not supported here")]
    [InlineData("pre_tokenizer", """{"type": "Split", "pattern": {"Regex": "a++"}, "behavior": "Isolated", "invert": false}""", "pre_tokenizer.pattern.Regex: possessive quantifiers")]
    [InlineData("pre_tokenizer", """{"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways", "invert": false}""", "pre_tokenizer.behavior: \"Sideways\" is not one of")]
    [InlineData("decoder", """{"type": "WordPiece", "prefix": "##", "cleanup": true}""", "decoder.type: decoder \"WordPiece\" is not supported")]
    [InlineData("post_processor", """{"type": "BertProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]}""", "post_processor.type: post-processor \"BertProcessing\" is not supported")]
    [InlineData("truncation", """{"max_length": 512}""", "truncation: truncation is not supported")]
    public void UnsupportedComponents_AreRefusedByPathAndName(string key, string value, string expected)
    {
        using var dir = new TempDir();
        var json = Minimal();
        json[key] = JsonNode.Parse(value);
        var e = Assert.Throws<FileFormatException>(() => Load(json, dir));
        Assert.StartsWith(dir.File("tokenizer.json") + ": ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("type", "\"WordPiece\"", "model.type: model \"WordPiece\" is not supported")]
    [InlineData("dropout", "0.1", "model.dropout: BPE dropout 0.1 is not supported")]
    [InlineData("continuing_subword_prefix", "\"##\"", "model.continuing_subword_prefix: \"##\" is not supported")]
    [InlineData("merges", "[\"a c\"]", "model.merges[0]: \"c\" is not in the vocabulary")]
    public void UnsupportedModelOptions_AreRefused(string key, string value, string expected)
    {
        using var dir = new TempDir();
        var json = Minimal();
        json["model"]![key] = JsonNode.Parse(value);
        Assert.Contains(expected, Assert.Throws<FileFormatException>(() => Load(json, dir)).Message);
    }

    [Fact]
    public void SpecialAddedTokens_OnlyInsideRanges_NonSpecialEverywhere()
    {
        using var dir = new TempDir();
        var json = Minimal();
        json["added_tokens"]!.AsArray().Add(JsonNode.Parse("""{ "id": 4, "content": "<t>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": false }"""));
        json["model"]!["vocab"]!["<"] = 5;
        json["model"]!["vocab"]![">"] = 6;
        json["model"]!["vocab"]!["s"] = 7;
        var tok = Load(json, dir);
        Assert.Equal([5, 7, 6, 4, 0], tok.Encode("<s><t>a"));
        Assert.Equal([new TokenSpan(3, 0, 3), new TokenSpan(4, 3, 3), new TokenSpan(0, 6, 1)],
            tok.EncodeWithSpans("<s><t>a", [new TextRange(0, 3)]));
        Assert.Equal("<t>a", tok.Decode([3, 4, 0]));
    }

    // HF's documented example for SplitDelimiterBehavior: "the-final--countdown" split on '-'.
    [Theory]
    [InlineData("Removed", "the|final|countdown")]
    [InlineData("Isolated", "the|-|final|-|-|countdown")]
    [InlineData("MergedWithPrevious", "the-|final-|-|countdown")]
    [InlineData("MergedWithNext", "the|-final|-|-countdown")]
    [InlineData("Contiguous", "the|-|final|--|countdown")]
    public void SplitBehaviors_MatchHfDocumentation(string behavior, string expected)
    {
        var json = new HfJson("test.json");
        var pre = HfPreTokenizer.Parse(json, JsonNode.Parse($$"""{"type": "Split", "pattern": {"String": "-"}, "behavior": "{{behavior}}", "invert": false}"""), "pre_tokenizer")!;
        var pieces = new List<HfPreToken> { new("the-final--countdown", 0, null) };
        pre.Apply(pieces, atInputStart: true);
        Assert.Equal(expected, string.Join("|", pieces.Select(p => p.Text)));
    }

    // Metaspace with split: spaces become "▁", a "▁" is prepended, and the text is cut before each "▁" (HF's
    // MergedWithNext on the replacement char, so a run of spaces gives lone "▁" pieces before the word).
    [Theory]
    [InlineData("first", true, "Hey  friend", "▁Hey|▁|▁friend")]
    [InlineData("never", true, "Hey friend", "Hey|▁friend")]
    [InlineData("always", false, "Hey friend", "▁Hey▁friend")]
    public void Metaspace_SplitsBeforeEachReplacement(string scheme, bool split, string text, string expected)
    {
        var json = new HfJson("test.json");
        var pre = HfPreTokenizer.Parse(json, JsonNode.Parse($$"""{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "{{scheme}}", "split": {{(split ? "true" : "false")}}}"""), "pre_tokenizer")!;
        var pieces = new List<HfPreToken> { new(text, 0, null) };
        pre.Apply(pieces, atInputStart: true);
        Assert.Equal(expected, string.Join("|", pieces.Select(p => p.Text)));
    }

    [Fact]
    public void StreamDecode_HoldsBackPartialUtf8_AcrossByteLevelTokens()
    {
        var tok = HfTokenizerAssets.Get("llama3_1");
        var ids = tok.Encode("😀");
        Assert.True(ids.Length > 1, "the emoji should take several byte-level tokens");
        var d = new TokenStreamDecoder(tok);
        var parts = ids.Select(d.Append).ToList();
        Assert.All(parts.Take(parts.Count - 1), p => Assert.Equal("", p));
        Assert.Equal("😀", parts[^1]);
    }
}
