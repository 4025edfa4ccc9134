using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class TokenStreamDecoderTests
{
    [Fact]
    public void MultiByteCharacter_IsHeldUntilItsLastByte()
    {
        var d = TokenizerAssets.Llama2Model.CreateStreamDecoder();
        Assert.Equal("", d.Append(1));
        Assert.Equal("Hello", d.Append(15043));
        Assert.Equal(" world", d.Append(3186));
        Assert.Equal(" ", d.Append(29871));
        Assert.Equal("", d.Append(243));
        Assert.Equal("", d.Append(162));
        Assert.Equal("", d.Append(155));
        Assert.Equal("😁", d.Append(132));
        Assert.Equal("", d.Flush());
    }

    [Fact]
    public void UnfinishedCharacter_ComesOutAsReplacementOnFlush_OrWhenTextInterrupts()
    {
        var d = TokenizerAssets.Llama2Model.CreateStreamDecoder();
        Assert.Equal("", d.Append(243));
        Assert.Equal("\uFFFD", d.Flush());
        // After Flush the next token is a first token again.
        Assert.Equal("", d.Append(243));
        Assert.Equal("\uFFFD Hello", d.Append(15043));
    }

    [Fact]
    public void Concatenation_EqualsDecode_OnReferenceStringsAndRandomIds()
    {
        var t = TokenizerAssets.Llama2Model;
        var sequences = TokenizerAssets.LlamaSpmCases().Select(c => c.Ids).ToList();
        var rng = new Random(3);
        // Random ids biased towards byte tokens (3..258), so that partial and invalid UTF-8 sequences occur.
        for (int k = 0; k < 200; k++)
            sequences.Add(Enumerable.Range(0, rng.Next(1, 30)).Select(_ => rng.Next(4) == 0 ? rng.Next(32000) : rng.Next(3, 259)).ToArray());
        foreach (var ids in sequences)
        {
            var d = t.CreateStreamDecoder();
            string streamed = string.Concat(ids.Select(d.Append)) + d.Flush();
            Assert.Equal(t.Decode(ids), streamed);
        }
    }
}
