using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class SentencePieceModelTests
{
    [Fact]
    public void Llama2Model_Fields()
    {
        var m = SentencePieceModel.Load(SharedData.Require(TokenizerAssets.Llama2ModelPath));
        Assert.Equal(32000, m.Pieces.Count);
        Assert.Equal(SentencePieceModelType.Bpe, m.ModelType);
        Assert.Equal((0, 1, 2, -1), (m.UnkId, m.BosId, m.EosId, m.PadId));
        Assert.True(m.ByteFallback);
        Assert.True(m.AddDummyPrefix);
        Assert.False(m.RemoveExtraWhitespaces);
        Assert.Equal("identity", m.NormalizerName);
        Assert.Equal(0, m.PrecompiledCharsmapLength);
        Assert.Equal(new SentencePieceEntry("<unk>", 0, TokenKind.Unknown), m.Pieces[0]);
        Assert.Equal(new SentencePieceEntry("<s>", 0, TokenKind.Control), m.Pieces[1]);
        Assert.Equal(new SentencePieceEntry("<0x00>", 0, TokenKind.Byte), m.Pieces[3]);
        Assert.Equal(new SentencePieceEntry("▁t", -1, TokenKind.Normal), m.Pieces[260]);
        Assert.Equal(new SentencePieceEntry("▁Hello", -14784, TokenKind.Normal), m.Pieces[15043]);
        Assert.Equal(3, m.Pieces.Count(p => p.Kind is TokenKind.Control or TokenKind.Unknown));
        Assert.Equal(256, m.Pieces.Count(p => p.Kind == TokenKind.Byte));
    }

    [Fact]
    public void Tok512Model_Fields()
    {
        var m = SentencePieceModel.Load(SharedData.Require(TokenizerAssets.Tok512ModelPath));
        Assert.Equal(512, m.Pieces.Count);
        Assert.Equal(SentencePieceModelType.Bpe, m.ModelType);
        Assert.True(m.ByteFallback);
        Assert.True(m.RemoveExtraWhitespaces);
        Assert.Equal(new SentencePieceEntry("▁t", -0f, TokenKind.Normal), m.Pieces[259]);
        Assert.Equal(new SentencePieceEntry("he", -1, TokenKind.Normal), m.Pieces[260]);
    }

    [Fact]
    public void HandBuiltModel_ParsesAndEncodes()
    {
        var bytes = ProtoBuilder.SmallBpeModel().ToArray();
        var m = SentencePieceModelReader.Parse(bytes, "small.model");
        Assert.Equal(6, m.Pieces.Count);
        Assert.Equal(-1, m.PadId); // written as a 10-byte sign-extended varint
        Assert.False(m.RemoveExtraWhitespaces);
        var t = SentencePieceTokenizer.FromModel(m, "small.model");
        Assert.Equal([5, 5, 3], t.Encode("a a "));
    }

    [Fact]
    public void Writer_OutputMatchesAHandBuiltModel_ByteForByte()
    {
        var m = new SentencePieceModel
        {
            Pieces = [new("<unk>", 0, TokenKind.Unknown), new("▁a", -1.5f, TokenKind.Normal)],
            ModelType = SentencePieceModelType.Bpe,
            PadId = -1,
            RemoveExtraWhitespaces = false,
        };
        var trainer = new ProtoBuilder().Int(3, 2).Int(4, 2).Int(35, 0).Int(40, 0).Int(41, 1).Int(42, 2).Int(43, -1);
        var normalizer = new ProtoBuilder().String(1, "identity").Int(3, 1).Int(4, 0).Int(5, 1);
        var expected = new ProtoBuilder()
            .Message(1, ProtoBuilder.Piece("<unk>", 0, 2)).Message(1, ProtoBuilder.Piece("▁a", -1.5f, 1))
            .Message(2, trainer).Message(3, normalizer).ToArray();
        Assert.Equal(expected, SentencePieceModelWriter.Write(m));
    }

    [Fact]
    public void Writer_RoundTripsTheLlama2Model()
    {
        var m = SentencePieceModel.Load(SharedData.Require(TokenizerAssets.Llama2ModelPath));
        var back = SentencePieceModelReader.Parse(SentencePieceModelWriter.Write(m), "written.model");
        Assert.Equal(m.Pieces, back.Pieces);
        Assert.Equal((m.ModelType, m.UnkId, m.BosId, m.EosId, m.PadId, m.ByteFallback),
            (back.ModelType, back.UnkId, back.BosId, back.EosId, back.PadId, back.ByteFallback));
        Assert.Equal((m.NormalizerName, m.AddDummyPrefix, m.RemoveExtraWhitespaces, m.EscapeWhitespaces),
            (back.NormalizerName, back.AddDummyPrefix, back.RemoveExtraWhitespaces, back.EscapeWhitespaces));
    }

    [Fact]
    public void DefaultsApply_WhenFieldsAreAbsent()
    {
        var bytes = new ProtoBuilder().Message(1, ProtoBuilder.Piece("<unk>", 0, 2)).ToArray();
        var m = SentencePieceModelReader.Parse(bytes, "x.model");
        Assert.Equal(SentencePieceModelType.Unigram, m.ModelType);
        Assert.Equal((0, 1, 2, -1), (m.UnkId, m.BosId, m.EosId, m.PadId));
        Assert.True(m.AddDummyPrefix);
        Assert.True(m.RemoveExtraWhitespaces);
        Assert.False(m.ByteFallback);
        Assert.Null(m.NormalizerName);
    }

    public static TheoryData<string, byte[], string> Garbage => new()
    {
        { "empty file", [], "no pieces" },
        { "truncated varint", [0x0A, 0x80], "truncated varint" },
        { "length past end", [0x0A, 0x10, 0x0A], "runs past the end" },
        { "group wire type", [0x0B], "unsupported wire type 3" },
        { "field number 0", [0x02, 0x00], "invalid field number 0" },
        { "overlong varint", [0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], "longer than 10 bytes" },
        { "piece type 9", new ProtoBuilder().Message(1, ProtoBuilder.Piece("a", 0, 9)).ToArray(), "type 9" },
        { "empty piece", new ProtoBuilder().Message(1, ProtoBuilder.Piece("", 0, 1)).ToArray(), "empty piece" },
        { "invalid UTF-8 piece", new ProtoBuilder().Message(1, new ProtoBuilder().Bytes(1, [0xC3, 0x28])).ToArray(), "not valid UTF-8" },
        { "pieces as varint", new ProtoBuilder().Int(1, 5).ToArray(), "wire type Varint, expected LengthDelimited" },
        { "score as varint", new ProtoBuilder().Message(1, new ProtoBuilder().String(1, "a").Int(2, 1)).ToArray(), "expected Fixed32" },
        { "truncated fixed32", new ProtoBuilder().Message(1, new ProtoBuilder().String(1, "a").Raw(0x15, 0, 0)).ToArray(), "truncated fixed32" },
        { "model type 7", new ProtoBuilder().Message(1, ProtoBuilder.Piece("a", 0, 1)).Message(2, new ProtoBuilder().Int(3, 7)).ToArray(), "model_type" },
    };

    [Theory]
    [MemberData(nameof(Garbage))]
    public void Garbage_ThrowsFileFormatException(string name, byte[] bytes, string expected)
    {
        var e = Assert.Throws<FileFormatException>(() => SentencePieceModelReader.Parse(bytes, "bad.model"));
        Assert.StartsWith("bad.model: ", e.Message);
        Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), $"{name}: {e.Message}");
    }

    [Fact]
    public void RandomBytes_AndTruncations_NeverThrowAnythingButFileFormatException()
    {
        var good = ProtoBuilder.SmallBpeModel().ToArray();
        var rng = new Random(5);
        for (int k = 0; k < 500; k++)
        {
            byte[] bytes = k < good.Length ? good[..k] : good.ToArray();
            if (k >= good.Length) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            try
            {
                var m = SentencePieceModelReader.Parse(bytes, "fuzz.model");
                SentencePieceTokenizer.FromModel(m, "fuzz.model").Encode("a a");
            }
            catch (FileFormatException) { }
        }
    }

    [Fact]
    public void UnigramModel_IsRejectedByTheTokenizer()
    {
        var m = SentencePieceModelReader.Parse(ProtoBuilder.SmallBpeModel(modelType: 1).ToArray(), "uni.model");
        var e = Assert.Throws<FileFormatException>(() => SentencePieceTokenizer.FromModel(m, "uni.model"));
        Assert.Contains("model_type", e.Message);
        Assert.Contains("Unigram", e.Message);
    }

    [Fact]
    public void ByteFallbackWithoutBytePieces_IsRejected()
    {
        var m = SentencePieceModelReader.Parse(ProtoBuilder.SmallBpeModel(byteFallback: true).ToArray(), "nobytes.model");
        var e = Assert.Throws<FileFormatException>(() => SentencePieceTokenizer.FromModel(m, "nobytes.model"));
        Assert.Contains("found 0", e.Message);
    }
}
