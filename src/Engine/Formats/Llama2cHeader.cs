namespace Engine.Formats;

/// <summary>The configuration stored at the start of a llama2.c checkpoint. <see cref="VocabSize"/> is always
/// positive; whether the classifier is tied to the embedding is <see cref="SharedClassifier"/> (version 0 stores it
/// as the sign of vocab_size, versions 1 and 2 as a flag byte). <see cref="GroupSize"/> is the Q8_0 group size of
/// version 2 files, 0 otherwise.</summary>
internal sealed record Llama2cHeader(
    int Version, int Dim, int HiddenDim, int NLayers, int NHeads, int NKvHeads, int VocabSize, int SeqLen,
    bool SharedClassifier, int GroupSize = 0)
{
    /// <summary>"ak42" read as a little-endian uint32: the first field of version 1 and 2 files.</summary>
    public const uint Magic = 0x616b3432;

    public int HeadSize => Dim / NHeads;
    public int KvDim => Dim / NHeads * NKvHeads;
    /// <summary>28 bytes (7 int32) for version 0, 256 for versions 1 and 2.</summary>
    public int HeaderBytes => Version == 0 ? 28 : 256;
}
