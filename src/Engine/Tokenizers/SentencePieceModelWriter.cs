using System.Text;

namespace Engine.Tokenizers;

/// <summary>Writes a <see cref="SentencePieceModel"/> as a tokenizer.model protobuf (the fields SentencePiece and
/// transformers' LlamaTokenizer read: pieces, trainer_spec model type/ids/byte_fallback, normalizer_spec flags), so
/// vocabularies engine builds itself (the demo, GGUF-embedded ones) can be saved into model folders.</summary>
public static class SentencePieceModelWriter
{
    public static byte[] Write(SentencePieceModel m)
    {
        var model = new MemoryStream();
        foreach (var p in m.Pieces)
        {
            var piece = new MemoryStream();
            Bytes(piece, 1, Encoding.UTF8.GetBytes(p.Piece));
            Fixed32(piece, 2, p.Score);
            Varint(piece, 3, (ulong)(int)p.Kind);
            Bytes(model, 1, piece.ToArray());
        }
        var trainer = new MemoryStream();
        Varint(trainer, 3, (ulong)(int)m.ModelType);
        Varint(trainer, 4, (ulong)m.Pieces.Count);
        Varint(trainer, 35, m.ByteFallback ? 1UL : 0UL);
        Varint(trainer, 40, (ulong)(long)m.UnkId);
        Varint(trainer, 41, (ulong)(long)m.BosId);
        Varint(trainer, 42, (ulong)(long)m.EosId);
        Varint(trainer, 43, (ulong)(long)m.PadId);
        Bytes(model, 2, trainer.ToArray());
        var norm = new MemoryStream();
        Bytes(norm, 1, Encoding.UTF8.GetBytes(m.NormalizerName ?? "identity"));
        Varint(norm, 3, m.AddDummyPrefix ? 1UL : 0UL);
        Varint(norm, 4, m.RemoveExtraWhitespaces ? 1UL : 0UL);
        Varint(norm, 5, m.EscapeWhitespaces ? 1UL : 0UL);
        Bytes(model, 3, norm.ToArray());
        return model.ToArray();
    }

    private static void Tag(Stream s, int field, int wire) => Raw(s, (ulong)((field << 3) | wire));

    private static void Raw(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }

    private static void Varint(Stream s, int field, ulong v) { Tag(s, field, 0); Raw(s, v); }

    private static void Fixed32(Stream s, int field, float f)
    {
        Tag(s, field, 5);
        Span<byte> b = stackalloc byte[4];
        BitConverter.TryWriteBytes(b, f);
        s.Write(b);
    }

    private static void Bytes(Stream s, int field, byte[] data)
    {
        Tag(s, field, 2);
        Raw(s, (ulong)data.Length);
        s.Write(data);
    }
}
