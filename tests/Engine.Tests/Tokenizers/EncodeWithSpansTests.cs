using System.Text;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class EncodeWithSpansTests
{
    [Fact]
    public void Spans_OfLeadingSpaceWordsAndEmoji()
    {
        var t = TokenizerAssets.Llama2Model;
        // " Hello world 😁" -> "▁▁Hello▁world▁😁": the dummy "▁" covers nothing, "▁Hello" covers " Hello", the emoji
        // (two UTF-16 chars) falls back to four byte tokens that all point at it.
        TokenSpan[] expected =
        [
            new(29871, 0, 0), new(15043, 0, 6), new(3186, 6, 6), new(29871, 12, 1),
            new(243, 13, 2), new(162, 13, 2), new(155, 13, 2), new(132, 13, 2),
        ];
        Assert.Equal(expected, t.EncodeWithSpans(" Hello world 😁"));
        Assert.Equal([new TokenSpan(15043, 0, 5)], t.EncodeWithSpans("Hello"));
        Assert.Empty(t.EncodeWithSpans(""));
    }

    [Theory]
    [InlineData("model")]
    [InlineData("bin")]
    public void Spans_TileTheInput_AndEachCoversItsTokensText(string format)
    {
        var t = TokenizerAssets.Llama2(format);
        foreach (var (text, ids) in TokenizerAssets.LlamaSpmCases())
        {
            var spans = t.EncodeWithSpans(text);
            Assert.Equal(ids, spans.Select(s => s.Id).ToArray());
            int covered = 0;
            for (int i = 0; i < spans.Length;)
            {
                var s = spans[i];
                Assert.Equal(covered, s.Start);
                string source = text.Substring(s.Start, s.Length);
                if (t.Kind(s.Id) == TokenKind.Byte)
                {
                    // A run of byte tokens with one span spells the UTF-8 of that span.
                    var bytes = new List<byte>();
                    for (; i < spans.Length && spans[i] == s with { Id = spans[i].Id } && t.Kind(spans[i].Id) == TokenKind.Byte; i++)
                        bytes.Add(Convert.ToByte(t.IdToPiece(spans[i].Id)[3..5], 16));
                    Assert.Equal(Encoding.UTF8.GetBytes(source), bytes.ToArray());
                }
                else
                {
                    string piece = t.IdToPiece(s.Id).Replace('▁', ' ');
                    if (i == 0) piece = piece[1..]; // the dummy prefix
                    Assert.Equal(piece, source);
                    i++;
                }
                covered = s.Start + s.Length;
            }
            Assert.Equal(text.Length, covered);
        }
    }
}
