using Engine.Formats;
using static Engine.Tokenizers.SentencePieceProtoFields;

namespace Engine.Tokenizers;

/// <summary>Writes a <see cref="SentencePieceModel"/> as a tokenizer.model protobuf (the fields SentencePiece and
/// transformers' LlamaTokenizer read: pieces, trainer_spec model type/ids/byte_fallback, normalizer_spec flags), so
/// vocabularies engine builds itself (the demo, GGUF-embedded ones) can be saved into model folders.</summary>
internal static class SentencePieceModelWriter
{
    public static byte[] Write(SentencePieceModel m)
    {
        var model = new ProtoWriter();
        foreach (var p in m.Pieces)
        {
            var piece = new ProtoWriter();
            piece.String(PiecePiece, p.Piece);
            piece.Float(PieceScore, p.Score);
            piece.Int32(PieceType, (int)p.Kind);
            model.Message(ModelPieces, piece);
        }
        var trainer = new ProtoWriter();
        trainer.Int32(TrainerModelType, (int)m.ModelType);
        trainer.Int32(TrainerVocabSize, m.Pieces.Count);
        trainer.Bool(TrainerByteFallback, m.ByteFallback);
        trainer.Int32(TrainerUnkId, m.UnkId);
        trainer.Int32(TrainerBosId, m.BosId);
        trainer.Int32(TrainerEosId, m.EosId);
        trainer.Int32(TrainerPadId, m.PadId);
        model.Message(ModelTrainerSpec, trainer);
        var norm = new ProtoWriter();
        norm.String(NormName, m.NormalizerName ?? "identity");
        norm.Bool(NormAddDummyPrefix, m.AddDummyPrefix);
        norm.Bool(NormRemoveExtraWhitespaces, m.RemoveExtraWhitespaces);
        norm.Bool(NormEscapeWhitespaces, m.EscapeWhitespaces);
        model.Message(ModelNormalizerSpec, norm);
        return model.ToArray();
    }
}
