using Engine.Tokenizers;

namespace Engine.Api;

/// <summary>A tokenizer on its own: Hugging Face tokenizer.json, SentencePiece tokenizer.model, llama2.c tokenizer.bin, or
/// the one in a model folder (tokenizer.json preferred).</summary>
public sealed class TextTokenizer
{
    private readonly ITokenizer _tok;

    private TextTokenizer(ITokenizer tok) => _tok = tok;

    /// <summary>Opens a tokenizer file, or a model folder holding one.</summary>
    public static TextTokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new TextTokenizer(TokenizerLoader.Load(path));
    }

    /// <summary>Number of tokens.</summary>
    public int VocabSize => _tok.VocabSize;
    /// <summary>Beginning-of-sequence token.</summary>
    public int BosId => _tok.BosId;
    /// <summary>End-of-sequence token.</summary>
    public int EosId => _tok.EosId;

    /// <summary>Token ids of <paramref name="text"/> (no BOS).</summary>
    public IReadOnlyList<int> Encode(string text) => _tok.Encode(text);

    /// <summary>The vocabulary entry of a token id.</summary>
    public string Piece(int id) => _tok.IdToPiece(id);

    /// <summary>Text of token ids.</summary>
    public string Decode(IReadOnlyList<int> ids) => _tok.Decode(ids.ToArray());
}
