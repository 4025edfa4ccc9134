using System.Text;
using System.Text.Json;
using Engine.Tokenizers;

namespace Engine.Data;

internal readonly record struct PreviewToken(int Id, string Piece, bool Learned);

/// <summary>One sample as the trainer will see it.</summary>
/// <param name="RenderedText">The template's output with special tokens written as their pieces.</param>
/// <param name="Tokens">The encoded tokens, truncated to the maximum length; Learned = its label is not −100.</param>
/// <param name="FullLength">Token count before truncation.</param>
internal sealed record PreviewSample(int Index, string? Id, string RenderedText, IReadOnlyList<PreviewToken> Tokens, int LearnedCount, int FullLength, bool Truncated);

/// <summary>For <c>engine data preview</c>: what the first samples look like after template, tokenizer and masking.</summary>
internal static class DataPreview
{
    public static List<PreviewSample> Build(IReadOnlyList<Sample> samples, ChatTemplate template, ITokenizer tokenizer,
        int count, int maxLength, bool trainOnInputs = false)
    {
        var encoder = new SampleEncoder(tokenizer, template, maxLength, trainOnInputs);
        string bos = tokenizer.BosId >= 0 ? tokenizer.IdToPiece(tokenizer.BosId) : "", eos = tokenizer.EosId >= 0 ? tokenizer.IdToPiece(tokenizer.EosId) : "";
        var result = new List<PreviewSample>();
        foreach (var sample in samples.Take(Math.Max(count, 0)))
        {
            var segments = template.Render(sample);
            var full = encoder.EncodeSegments(segments, sample.Index);
            int n = Math.Min(full.Length, maxLength);
            var tokens = new PreviewToken[n];
            int learned = 0;
            for (int i = 0; i < n; i++)
            {
                bool l = full.Labels[i] != EncodedSample.IgnoreIndex;
                if (l) learned++;
                tokens[i] = new PreviewToken(full.InputIds[i], tokenizer.IdToPiece(full.InputIds[i]), l);
            }
            result.Add(new PreviewSample(sample.Index, sample.Id, TemplateSegment.ToText(segments, bos, eos), tokens, learned, full.Length, full.Length > maxLength));
        }
        return result;
    }

    /// <summary>Human-readable form: a header per sample, the rendered text, then the tokens as "id:piece" with learned
    /// tokens in [brackets], or in green when <paramref name="color"/> (ANSI) is set.</summary>
    public static string ToText(IReadOnlyList<PreviewSample> samples, bool color = false)
    {
        var sb = new StringBuilder();
        foreach (var s in samples)
        {
            sb.Append("=== sample ").Append(s.Index);
            if (s.Id is not null) sb.Append(" (id \"").Append(s.Id).Append("\")");
            sb.Append(": ").Append(s.Tokens.Count).Append(" tokens, ").Append(s.LearnedCount).Append(" learned");
            if (s.Truncated) sb.Append(", truncated from ").Append(s.FullLength);
            sb.Append(" ===\n").Append(s.RenderedText).Append("\n--- tokens (").Append(color ? "green" : "[bracketed]").Append(" = learned) ---\n");
            for (int i = 0; i < s.Tokens.Count; i++)
            {
                if (i > 0) sb.Append(' ');
                var t = s.Tokens[i];
                var text = $"{t.Id}:{Escape(t.Piece)}";
                if (!t.Learned) sb.Append(text);
                else if (color) sb.Append("\u001b[32m").Append(text).Append("\u001b[0m");
                else sb.Append('[').Append(text).Append(']');
            }
            sb.Append("\n\n");
        }
        return sb.ToString();
    }

    /// <summary>JSON: <c>[{"index", "id", "rendered_text", "full_length", "truncated", "learned_count",
    /// "tokens": [{"id", "piece", "learned"}]}]</c>.</summary>
    public static string ToJson(IReadOnlyList<PreviewSample> samples, bool indented = true)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented }))
        {
            w.WriteStartArray();
            foreach (var s in samples)
            {
                w.WriteStartObject();
                w.WriteNumber("index", s.Index);
                if (s.Id is null) w.WriteNull("id"); else w.WriteString("id", s.Id);
                w.WriteString("rendered_text", s.RenderedText);
                w.WriteNumber("full_length", s.FullLength);
                w.WriteBoolean("truncated", s.Truncated);
                w.WriteNumber("learned_count", s.LearnedCount);
                w.WriteStartArray("tokens");
                foreach (var t in s.Tokens)
                {
                    w.WriteStartObject();
                    w.WriteNumber("id", t.Id);
                    w.WriteString("piece", t.Piece);
                    w.WriteBoolean("learned", t.Learned);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Control characters (a raw "\n" piece) shown as escapes so each sample's tokens stay on one line.</summary>
    private static string Escape(string piece)
    {
        if (!piece.Any(char.IsControl)) return piece;
        var sb = new StringBuilder();
        foreach (var c in piece)
            sb.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ when char.IsControl(c) => $"\\u{(int)c:x4}", _ => c.ToString() });
        return sb.ToString();
    }
}
