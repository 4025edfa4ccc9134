namespace Engine.Data;

internal enum Role { System, User, Assistant }

internal readonly record struct Turn(Role Role, string Text);

/// <summary>One training example as read from a file, before any template or tokenizer is applied.</summary>
/// <param name="Index">0-based position of the record in its file (JSON element, JSONL line, CSV row, text block).</param>
/// <param name="Id">The record's "id" field, when it has one.</param>
internal abstract record Sample(int Index, string? Id);

/// <summary>A conversation: turns alternate User, Assistant, User, ... (readers guarantee this) and hold at least one
/// Assistant turn. A system prompt read from the file is in <see cref="System"/>, never in <see cref="Turns"/>.</summary>
/// <param name="System">The record's system prompt, or null to let the template use its default.</param>
/// <param name="Context">Alpaca's "input" field (extra context for the first user turn), or null. The alpaca template
/// renders it in its own "### Input:" section; other templates append it to the first user message after a blank line.</param>
internal sealed record ConversationSample(int Index, string? Id, string? System, IReadOnlyList<Turn> Turns, string? Context = null)
    : Sample(Index, Id);

/// <summary>Plain text for causal-LM training on every token.</summary>
internal sealed record TextSample(int Index, string? Id, string Text) : Sample(Index, Id);

/// <summary>The layout a file was read as; it picks the default chat template.</summary>
internal enum DataFormat
{
    /// <summary>Vicuna/ShareGPT "conversations" with "from"/"value" turns (FastChat's format).</summary>
    ShareGpt,
    /// <summary>OpenAI-style "messages" with "role"/"content".</summary>
    OpenAiMessages,
    /// <summary>Stanford Alpaca instruction/input/output records.</summary>
    Alpaca,
    /// <summary>Plain text: a .txt file, or CSV/JSONL with a "text" column.</summary>
    Text,
}

/// <summary>The samples of one file and how it was read.</summary>
/// <param name="Notes">Things done silently that the user may want to know (skipped records, skipped first turns).</param>
internal sealed record Dataset(string Path, DataFormat Format, IReadOnlyList<Sample> Samples, IReadOnlyList<string> Notes);
