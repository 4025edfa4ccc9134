using System.Text;

namespace Engine.Tests.Tokenizers;

/// <summary>Writes protobuf wire format for hand-made tokenizer.model fixtures.</summary>
internal sealed class ProtoBuilder
{
    private readonly List<byte> _bytes = [];

    public byte[] ToArray() => _bytes.ToArray();

    public ProtoBuilder Varint(ulong v)
    {
        do { byte b = (byte)(v & 0x7F); v >>= 7; _bytes.Add(v != 0 ? (byte)(b | 0x80) : b); } while (v != 0);
        return this;
    }

    public ProtoBuilder Tag(int field, int wire) => Varint((ulong)(field << 3 | wire));
    public ProtoBuilder Int(int field, long value) => Tag(field, 0).Varint(unchecked((ulong)value));
    public ProtoBuilder Float(int field, float value) { Tag(field, 5); _bytes.AddRange(BitConverter.GetBytes(value)); return this; }
    public ProtoBuilder Bytes(int field, byte[] data) { Tag(field, 2).Varint((ulong)data.Length); _bytes.AddRange(data); return this; }
    public ProtoBuilder String(int field, string s) => Bytes(field, Encoding.UTF8.GetBytes(s));
    public ProtoBuilder Message(int field, ProtoBuilder m) => Bytes(field, m.ToArray());
    public ProtoBuilder Raw(params byte[] data) { _bytes.AddRange(data); return this; }

    public static ProtoBuilder Piece(string piece, float score, int type) =>
        new ProtoBuilder().String(1, piece).Float(2, score).Int(3, type);

    /// <summary>A valid BPE model: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, then "▁", "a", "▁a" with increasing priority.</summary>
    public static ProtoBuilder SmallBpeModel(int modelType = 2, bool byteFallback = false)
    {
        var m = new ProtoBuilder()
            .Message(1, Piece("<unk>", 0, 2)).Message(1, Piece("<s>", 0, 3)).Message(1, Piece("</s>", 0, 3))
            .Message(1, Piece("▁", -2, 1)).Message(1, Piece("a", -1, 1)).Message(1, Piece("▁a", 0, 1));
        var trainer = new ProtoBuilder().Int(3, modelType).Int(4, 6).Int(35, byteFallback ? 1 : 0)
            .Int(40, 0).Int(41, 1).Int(42, 2).Int(43, -1).String(45, "<unk>");
        var normalizer = new ProtoBuilder().String(1, "identity").Int(3, 1).Int(4, 0);
        return m.Message(2, trainer).Message(3, normalizer);
    }
}
