using Engine.Formats;
using static Engine.Tokenizers.SentencePieceProtoFields;

namespace Engine.Tokenizers;

/// <summary>Parses SentencePiece's <c>ModelProto</c> (sentencepiece_model.proto) with <see cref="ProtoReader"/>. Only
/// the fields listed in <see cref="SentencePieceModel"/> are kept; every other field is skipped by wire type.</summary>
internal static class SentencePieceModelReader
{
    public static SentencePieceModel Parse(ReadOnlySpan<byte> data, string path)
    {
        var pieces = new List<SentencePieceEntry>();
        var trainer = new TrainerFields();
        var norm = new NormalizerFields();
        var reader = new ProtoReader(data, path, "ModelProto");
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case ModelPieces:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    pieces.Add(ParsePiece(reader.ReadBytes(out int ps), path, pieces.Count, ps));
                    break;
                case ModelTrainerSpec:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    ParseTrainer(reader.ReadBytes(out int ts), path, ts, ref trainer);
                    break;
                case ModelNormalizerSpec:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    ParseNormalizer(reader.ReadBytes(out int ns), path, ns, ref norm);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
        if (pieces.Count == 0)
            throw new FileFormatException(path, "ModelProto.pieces", "no pieces (not a SentencePiece model?)");
        if (!Enum.IsDefined(trainer.ModelType))
            throw new FileFormatException(path, "ModelProto.trainer_spec.model_type", $"unknown value {(int)trainer.ModelType}");
        return new SentencePieceModel
        {
            Pieces = pieces,
            ModelType = trainer.ModelType,
            UnkId = trainer.UnkId,
            BosId = trainer.BosId,
            EosId = trainer.EosId,
            PadId = trainer.PadId,
            ByteFallback = trainer.ByteFallback,
            TreatWhitespaceAsSuffix = trainer.TreatWhitespaceAsSuffix,
            NormalizerName = norm.Name,
            PrecompiledCharsmapLength = norm.CharsmapLength,
            AddDummyPrefix = norm.AddDummyPrefix,
            RemoveExtraWhitespaces = norm.RemoveExtraWhitespaces,
            EscapeWhitespaces = norm.EscapeWhitespaces,
        };
    }

    private static SentencePieceEntry ParsePiece(ReadOnlySpan<byte> data, string path, int index, int offset)
    {
        var reader = new ProtoReader(data, path, $"ModelProto.pieces[{index}]", offset);
        string? piece = null;
        float score = 0;
        int type = (int)TokenKind.Normal;
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case PiecePiece: reader.Expect(field, wire, WireType.LengthDelimited); piece = reader.ReadString(); break;
                case PieceScore: reader.Expect(field, wire, WireType.Fixed32); score = reader.ReadFloat(); break;
                case PieceType: reader.Expect(field, wire, WireType.Varint); type = reader.ReadInt32(); break;
                default: reader.Skip(wire); break;
            }
        }
        if (string.IsNullOrEmpty(piece)) throw reader.Error("missing or empty piece string");
        if (type < (int)TokenKind.Normal || type > (int)TokenKind.Byte)
            throw reader.Error($"type {type} is not one of 1..6 (NORMAL..BYTE)");
        return new SentencePieceEntry(piece, score, (TokenKind)type);
    }

    private struct TrainerFields()
    {
        public SentencePieceModelType ModelType = SentencePieceModelType.Unigram;
        public int UnkId = 0, BosId = 1, EosId = 2, PadId = -1;
        public bool ByteFallback, TreatWhitespaceAsSuffix;
    }

    private static void ParseTrainer(ReadOnlySpan<byte> data, string path, int offset, ref TrainerFields t)
    {
        var reader = new ProtoReader(data, path, "ModelProto.trainer_spec", offset);
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadTag();
            if (field is TrainerModelType or TrainerTreatWhitespaceAsSuffix or TrainerByteFallback
                or TrainerUnkId or TrainerBosId or TrainerEosId or TrainerPadId)
                reader.Expect(field, wire, WireType.Varint);
            switch (field)
            {
                case TrainerModelType: t.ModelType = (SentencePieceModelType)reader.ReadInt32(); break;
                case TrainerTreatWhitespaceAsSuffix: t.TreatWhitespaceAsSuffix = reader.ReadBool(); break;
                case TrainerByteFallback: t.ByteFallback = reader.ReadBool(); break;
                case TrainerUnkId: t.UnkId = reader.ReadInt32(); break;
                case TrainerBosId: t.BosId = reader.ReadInt32(); break;
                case TrainerEosId: t.EosId = reader.ReadInt32(); break;
                case TrainerPadId: t.PadId = reader.ReadInt32(); break;
                default: reader.Skip(wire); break;
            }
        }
    }

    private struct NormalizerFields()
    {
        public string? Name;
        public int CharsmapLength;
        public bool AddDummyPrefix = true, RemoveExtraWhitespaces = true, EscapeWhitespaces = true;
    }

    private static void ParseNormalizer(ReadOnlySpan<byte> data, string path, int offset, ref NormalizerFields n)
    {
        var reader = new ProtoReader(data, path, "ModelProto.normalizer_spec", offset);
        while (!reader.AtEnd)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case NormName: reader.Expect(field, wire, WireType.LengthDelimited); n.Name = reader.ReadString(); break;
                case NormCharsmap: reader.Expect(field, wire, WireType.LengthDelimited); n.CharsmapLength = reader.ReadBytes(out _).Length; break;
                case NormAddDummyPrefix: reader.Expect(field, wire, WireType.Varint); n.AddDummyPrefix = reader.ReadBool(); break;
                case NormRemoveExtraWhitespaces: reader.Expect(field, wire, WireType.Varint); n.RemoveExtraWhitespaces = reader.ReadBool(); break;
                case NormEscapeWhitespaces: reader.Expect(field, wire, WireType.Varint); n.EscapeWhitespaces = reader.ReadBool(); break;
                default: reader.Skip(wire); break;
            }
        }
    }
}
