using System.Text;
using Engine.Tokenizers;

namespace Engine.Data;

/// <summary>An Ollama Modelfile for an exported GGUF: <c>FROM</c> the file, the model's chat template in Ollama's
/// (Go template) syntax, and a <c>PARAMETER stop</c> per end-of-turn token.
/// <para>The template is derived from the model's own Jinja template by rendering it, not from a table of known
/// templates: the generation prompt of [system, user] and of [user] alone, with sentinel strings as the message
/// contents, gives the prompt part (the system block is what differs between the two, wrapped in
/// <c>{{ if .System }}</c>, with the template's default system text as the else branch when it has one); the rendering
/// of [system, user, assistant] gives what the template writes after a reply (Llama 3's <c>&lt;|eot_id|&gt;</c>,
/// ChatML's <c>&lt;|im_end|&gt;\n</c>). So the Ollama prompt is exactly the text engine trains on and
/// <c>generate --chat</c> feeds. A template that refuses a system message (Gemma, Mistral v0.1) gets no system block.
/// A leading BOS text is dropped when the tokenizer adds BOS itself (llama.cpp would add a second one).</para></summary>
internal static class OllamaModelfile
{
    private const string SystemMark = "\u0001SYSTEM\u0001", PromptMark = "\u0001PROMPT\u0001", ResponseMark = "\u0001RESPONSE\u0001";

    /// <summary>The Modelfile text; <paramref name="notes"/> receives why a part was left out.</summary>
    public static string Build(string ggufFileName, JinjaChatTemplate? template, ITokenizer tokenizer, List<string> notes)
    {
        var sb = new StringBuilder();
        sb.Append("FROM ./").Append(ggufFileName).Append('\n');
        var stops = new List<string>();
        if (template is null) notes.Add("Modelfile: the model has no chat template, so it has no TEMPLATE (Ollama will send raw prompts)");
        else if (Translate(template, tokenizer, notes) is { } t)
        {
            sb.Append("TEMPLATE \"\"\"").Append(t.Template).Append("\"\"\"\n");
            stops.AddRange(template.EndOfTurnTexts.Where(e => t.Rendered.Contains(e, StringComparison.Ordinal) && IsSpecial(tokenizer, e)));
        }
        if (tokenizer.EosId >= 0 && tokenizer.IdToPiece(tokenizer.EosId) is { } eos && !stops.Contains(eos)) stops.Add(eos);
        foreach (var s in stops) sb.Append("PARAMETER stop \"").Append(s.Replace("\\", "\\\\").Replace("\"", "\\\"")).Append("\"\n");
        return sb.ToString();
    }

    private static bool IsSpecial(ITokenizer tok, string text) =>
        tok.PieceToId(text) is int id and >= 0 && tok.Kind(id) is TokenKind.Control or TokenKind.UserDefined;

    private static (string Template, string Rendered)? Translate(JinjaChatTemplate template, ITokenizer tokenizer, List<string> notes)
    {
        string withSystem, withoutSystem, full;
        string? systemPrompt = null;
        try
        {
            withoutSystem = template.RenderText([("user", PromptMark)], addGenerationPrompt: true);
            full = template.RenderText([("user", PromptMark), ("assistant", ResponseMark)], addGenerationPrompt: false);
        }
        catch (EngineException e)
        {
            notes.Add($"Modelfile: the chat template could not be rendered for a user/assistant pair ({e.Message}); no TEMPLATE written");
            return null;
        }
        try
        {
            withSystem = template.RenderText([("system", SystemMark), ("user", PromptMark)], addGenerationPrompt: true);
            systemPrompt = withSystem;
        }
        catch (EngineException)
        {
            notes.Add("Modelfile: the chat template refuses a system message, so the TEMPLATE has no system block");
        }

        int promptAt = full.IndexOf(PromptMark, StringComparison.Ordinal), responseAt = full.IndexOf(ResponseMark, StringComparison.Ordinal);
        if (Count(withoutSystem, PromptMark) != 1 || Count(full, ResponseMark) != 1 || promptAt < 0 || responseAt < promptAt
            || (systemPrompt is not null && (Count(systemPrompt, SystemMark) != 1 || Count(systemPrompt, PromptMark) != 1)))
        {
            notes.Add("Modelfile: the chat template does not write each message exactly once, so it cannot be expressed in Ollama's syntax; no TEMPLATE written");
            return null;
        }
        string afterResponse = full[(responseAt + ResponseMark.Length)..];

        string prompt;
        if (systemPrompt is null) prompt = Go(withoutSystem);
        else
        {
            // The system block is where the two generation prompts differ.
            int pre = CommonPrefix(systemPrompt, withoutSystem), suf = CommonSuffix(systemPrompt, withoutSystem, pre);
            if (withoutSystem.Length - suf == pre)
            {
                int aligned = AlignBlock(systemPrompt, pre, systemPrompt.Length - suf);
                suf += pre - aligned;
                pre = aligned;
            }
            string withBlock = systemPrompt[pre..(systemPrompt.Length - suf)], defaultBlock = withoutSystem[pre..(withoutSystem.Length - suf)];
            if (!withBlock.Contains(SystemMark, StringComparison.Ordinal) || withBlock.Contains(PromptMark, StringComparison.Ordinal)
                || defaultBlock.Contains('\u0001'))
            {
                notes.Add("Modelfile: the chat template's system message could not be located; no TEMPLATE written");
                return null;
            }
            prompt = Go(systemPrompt[..pre]) + "{{ if .System }}" + Go(withBlock)
                   + (defaultBlock.Length > 0 ? "{{ else }}" + Go(defaultBlock) : "") + "{{ end }}" + Go(systemPrompt[^suf..]);
        }
        string bos = template.BosToken ?? "";
        if (tokenizer.AddBos && bos.Length > 0 && prompt.StartsWith(Go(bos), StringComparison.Ordinal)) prompt = prompt[Go(bos).Length..];
        return (prompt + "{{ .Response }}" + Go(afterResponse), full);
    }

    /// <summary>Literal text in Go template syntax, with the sentinels turned into Ollama's fields.</summary>
    private static string Go(string text) => text.Replace("{{", "{{ \"{{\" }}", StringComparison.Ordinal)
        .Replace(SystemMark, "{{ .System }}", StringComparison.Ordinal).Replace(PromptMark, "{{ .Prompt }}", StringComparison.Ordinal);

    private static int Count(string text, string mark)
    {
        int n = 0;
        for (int i = text.IndexOf(mark, StringComparison.Ordinal); i >= 0; i = text.IndexOf(mark, i + mark.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    private static int CommonPrefix(string a, string b)
    {
        int n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        // Never split a sentinel: back up to its start.
        int cut = a.LastIndexOf('\u0001', Math.Max(0, n - 1));
        return cut >= 0 && Count(a[..n], "\u0001") % 2 == 1 ? cut : n;
    }

    /// <summary>An inserted block [start, end) of <paramref name="a"/> can slide left while the character before it
    /// equals its last one (the text stays the same); slide it to the rightmost place where it starts a tag ("&lt;" or
    /// "["), so "&lt;|im_start|&gt;{{ if .System }}system…&lt;|im_start|&gt;{{ end }}user" reads
    /// "{{ if .System }}&lt;|im_start|&gt;system…{{ end }}&lt;|im_start|&gt;user" as Ollama's own templates do.</summary>
    private static int AlignBlock(string a, int start, int end)
    {
        if (a[start] is '<' or '[') return start;
        for (int s = start, e = end; s > 0 && a[s - 1] == a[e - 1] && a[s - 1] != '\u0001'; )
        {
            s--; e--;
            if (a[s] is '<' or '[') return s;
        }
        return start;
    }

    private static int CommonSuffix(string a, string b, int prefix)
    {
        int n = 0;
        while (n < a.Length - prefix && n < b.Length - prefix && a[^(n + 1)] == b[^(n + 1)]) n++;
        // A suffix that starts inside a sentinel starts after it instead.
        string tail = a[^n..];
        return Count(tail, "\u0001") % 2 == 1 ? n - (tail.IndexOf('\u0001') + 1) : n;
    }
}
