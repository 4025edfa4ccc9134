namespace Engine.Tokenizers;

/// <summary>Field numbers from sentencepiece_model.proto that <see cref="SentencePieceModelReader"/> and
/// <see cref="SentencePieceModelWriter"/> use.</summary>
internal static class SentencePieceProtoFields
{
    public const int ModelPieces = 1, ModelTrainerSpec = 2, ModelNormalizerSpec = 3;
    public const int PiecePiece = 1, PieceScore = 2, PieceType = 3;
    public const int TrainerModelType = 3, TrainerVocabSize = 4, TrainerTreatWhitespaceAsSuffix = 24, TrainerByteFallback = 35;
    public const int TrainerUnkId = 40, TrainerBosId = 41, TrainerEosId = 42, TrainerPadId = 43;
    public const int NormName = 1, NormCharsmap = 2, NormAddDummyPrefix = 3, NormRemoveExtraWhitespaces = 4, NormEscapeWhitespaces = 5;
}
