using System.Text;

namespace Engine.Data;

internal enum SegmentKind
{
    /// <summary>Text to tokenize.</summary>
    Text,
    /// <summary>The BOS token, inserted by id.</summary>
    Bos,
    /// <summary>The EOS token, inserted by id.</summary>
    Eos,
}

/// <summary>A piece of a rendered sample. <see cref="Learned"/> marks the parts the model is trained to produce
/// (assistant replies and the EOS that ends them); everything else is context whose tokens get label -100.
/// <see cref="TemplateWritten"/> marks text a chat template wrote itself (role headers, "&lt;|eot_id|&gt;"), in which
/// the tokenizer parses special-token strings; message content never is, so a literal "&lt;/s&gt;" in data stays
/// text. The built-in templates write no such text (their BOS/EOS are segments of their own).</summary>
internal readonly record struct TemplateSegment(SegmentKind Kind, string Text, bool Learned, bool TemplateWritten = false)
{
    public static TemplateSegment Prompt(string text) => new(SegmentKind.Text, text, false);
    public static TemplateSegment Reply(string text) => new(SegmentKind.Text, text, true);
    /// <summary>Text written by a (Jinja) chat template, special tokens in it parsed.</summary>
    public static TemplateSegment Markup(string text, bool learned) => new(SegmentKind.Text, text, learned, true);
    public static TemplateSegment Bos => new(SegmentKind.Bos, "", false);
    public static TemplateSegment Eos(bool learned) => new(SegmentKind.Eos, "", learned);

    /// <summary>The segments as one string, special tokens written as <paramref name="bos"/>/<paramref name="eos"/>
    /// (for vicuna_v1.1 this is exactly FastChat's <c>conv.get_prompt()</c>).</summary>
    public static string ToText(IReadOnlyList<TemplateSegment> segments, string bos = "<s>", string eos = "</s>")
    {
        var sb = new StringBuilder();
        foreach (var s in segments)
            sb.Append(s.Kind switch { SegmentKind.Bos => bos, SegmentKind.Eos => eos, _ => s.Text });
        return sb.ToString();
    }
}
