using System.Text;
using System.Text.RegularExpressions;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Tests.Support;
using Engine.Tests.Templating;
using Engine.Tokenizers;

namespace Engine.Tests.Data;

/// <summary>The Ollama Modelfile's TEMPLATE, evaluated by a small Go-template evaluator written here (the subset the
/// translation emits: <c>{{ if .System }}…{{ else }}…{{ end }}</c>, <c>{{ .System }}</c>, <c>{{ .Prompt }}</c>,
/// <c>{{ .Response }}</c>, <c>{{ "{{" }}</c>), gives for a system + user prompt exactly the model's own Jinja template's
/// generation prompt (the interpreter itself is held to jinja2 in TemplateRenderTests), minus a BOS the tokenizer adds
/// anyway; and with a reply, what the template writes around it.</summary>
public class OllamaModelfileTests
{
    private static string Template(string modelfile) =>
        Regex.Match(modelfile, "TEMPLATE \"\"\"(.*?)\"\"\"\n", RegexOptions.Singleline) is { Success: true } m
            ? m.Groups[1].Value : throw new Xunit.Sdk.XunitException("no TEMPLATE in\n" + modelfile);

    /// <summary>Go's text/template for the emitted subset. A null <paramref name="response"/> is the turn being
    /// generated: Ollama cuts the rendering at <c>{{ .Response }}</c> there.</summary>
    private static string Go(string template, string? system, string prompt, string? response)
    {
        var output = new StringBuilder();
        var skip = new Stack<bool>();
        bool Skipping() => skip.Contains(true);
        int i = 0;
        while (i < template.Length)
        {
            int open = template.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0) { if (!Skipping()) output.Append(template, i, template.Length - i); break; }
            if (!Skipping()) output.Append(template, i, open - i);
            int close = template.IndexOf("}}", open + 2, StringComparison.Ordinal);
            // {{ "{{" }}: the closing braces come after the quoted literal.
            if (template.AsSpan(open + 2).TrimStart().StartsWith("\"{{\"")) close = template.IndexOf("}}", template.IndexOf("\"{{\"", open, StringComparison.Ordinal) + 4, StringComparison.Ordinal);
            string action = template[(open + 2)..close].Trim();
            i = close + 2;
            switch (action)
            {
                case "if .System": skip.Push(string.IsNullOrEmpty(system)); break;
                case "else": skip.Push(!skip.Pop()); break;
                case "end": skip.Pop(); break;
                case ".System": if (!Skipping()) output.Append(system); break;
                case ".Prompt": if (!Skipping()) output.Append(prompt); break;
                case ".Response":
                    if (Skipping()) break;
                    if (response is null) return output.ToString();
                    output.Append(response);
                    break;
                case "\"{{\"": if (!Skipping()) output.Append("{{"); break;
                default: throw new Xunit.Sdk.XunitException($"unexpected action {{{{ {action} }}}}");
            }
        }
        Assert.Empty(skip);
        return output.ToString();
    }

    private static void AssertSameAsJinja(JinjaChatTemplate jinja, ITokenizer tok, bool systemAllowed)
    {
        var notes = new List<string>();
        var modelfile = OllamaModelfile.Build("m.gguf", jinja, tok, notes);
        Assert.StartsWith("FROM ./m.gguf\n", modelfile);
        var t = Template(modelfile);
        string Strip(string s) => tok.AddBos && jinja.BosToken is { Length: > 0 } b && s.StartsWith(b, StringComparison.Ordinal) ? s[b.Length..] : s;
        Assert.Equal(Strip(jinja.RenderText([("user", "Hi there")], true)), Go(t, null, "Hi there", null));
        if (systemAllowed)
            Assert.Equal(Strip(jinja.RenderText([("system", "Be brief."), ("user", "Hi there")], true)), Go(t, "Be brief.", "Hi there", null));
        else Assert.Contains(notes, n => n.Contains("refuses a system message"));
        // With a reply, the text after it is the template's end of turn.
        var full = Strip(jinja.RenderText([("user", "Hi there"), ("assistant", "Hello!")], false));
        var withReply = Go(t, null, "Hi there", "Hello!");
        Assert.EndsWith(full[(full.IndexOf("Hello!", StringComparison.Ordinal) + "Hello!".Length)..], withReply);
    }

    [Fact]
    public void Llama31_modelfile_is_the_templates_own_prompt()
    {
        var dir = Path.GetDirectoryName(SharedData.Require("hf-tokenizers/llama3_1/tokenizer.json"))!;
        var tok = TokenizerLoader.Load(dir);
        var jinja = JinjaChatTemplate.From(ChatTemplateSource.FromFolder(dir)!);
        var modelfile = OllamaModelfile.Build("m.gguf", jinja, tok, []);
        Assert.Equal(
            "FROM ./m.gguf\n" +
            "TEMPLATE \"\"\"{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}" +
            "<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" +
            "{{ .Response }}<|eot_id|>\"\"\"\n" +
            "PARAMETER stop \"<|eot_id|>\"\n", modelfile);
        AssertSameAsJinja(jinja, tok, systemAllowed: true);
    }

    [Fact]
    public void Qwen3_modelfile_is_the_templates_own_prompt()
    {
        var dir = Path.GetDirectoryName(SharedData.Require("hf-tokenizers/qwen3/tokenizer.json"))!;
        var tok = TokenizerLoader.Load(dir);
        var jinja = JinjaChatTemplate.From(ChatTemplateSource.FromFolder(dir)!);
        AssertSameAsJinja(jinja, tok, systemAllowed: true);
        Assert.Contains("PARAMETER stop \"<|im_end|>\"\n", OllamaModelfile.Build("m.gguf", jinja, tok, []));
    }

    [Theory]
    [InlineData("qwen2_5", null, "<|im_end|>", true)]        // a default system prompt: the else branch
    [InlineData("mistral_v0_3", "<s>", "</s>", true)]
    [InlineData("tinyllama_zephyr", "<s>", "</s>", true)]
    [InlineData("gemma2", "<bos>", "<eos>", false)]          // refuses a system message
    [InlineData("llama2_chat", "<s>", "</s>", true)]
    public void Fixture_templates_translate_exactly(string name, string? bos, string eos, bool systemAllowed)
    {
        var specials = new[] { "<|im_start|>", "<|im_end|>", "[INST]", "[/INST]", "<|user|>", "<|assistant|>", "<|system|>", "<start_of_turn>", "<end_of_turn>" };
        var tok = new WordTokenizer(bos: bos ?? "<|endoftext|>", eos: eos, specials: specials, hasBos: bos is not null);
        var jinja = JinjaChatTemplate.Parse(TemplateFixtures.Text(name), name + ".jinja", bos, eos);
        AssertSameAsJinja(jinja, tok, systemAllowed);
    }
}
