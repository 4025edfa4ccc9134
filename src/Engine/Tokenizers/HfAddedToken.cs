namespace Engine.Tokenizers;

/// <summary>An entry of tokenizer.json's added_tokens: matched in the text before the model sees it.
/// <paramref name="Special"/> ones (role markers, EOS) only inside the ranges the caller allows; the others
/// (Qwen's &lt;think&gt;) everywhere. LStrip/RStrip absorb the whitespace beside a match; SingleWord requires no word
/// character on either side.</summary>
internal sealed record HfAddedToken(int Id, string Content, bool Special, bool LStrip, bool RStrip, bool SingleWord);
