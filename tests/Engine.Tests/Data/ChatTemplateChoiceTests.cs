using System.Text.Json;
using Engine.Api;
using Engine.Data;
using Engine.Tests.Support;
using Engine.Tests.Templating;

namespace Engine.Tests.Data;

/// <summary>Which template conversation data gets, and <c>data preview</c> with a model's own template.</summary>
public class ChatTemplateChoiceTests
{
    private static JinjaChatTemplate Zephyr() => JinjaChatTemplate.Parse(TemplateFixtures.Text("tinyllama_zephyr"), "zephyr", "<s>", "</s>");

    [Fact]
    public void Conversations_default_to_the_models_template_other_formats_never_look_it_up()
    {
        var zephyr = Zephyr();
        Assert.Same(zephyr, ChatTemplate.Choose(null, DataFormat.ShareGpt, () => zephyr));
        Assert.Same(zephyr, ChatTemplate.Choose(null, DataFormat.OpenAiMessages, () => zephyr));
        Assert.IsType<VicunaTemplate>(ChatTemplate.Choose(null, DataFormat.ShareGpt, () => null));
        Func<JinjaChatTemplate?> never = () => throw new InvalidOperationException("looked up");
        Assert.IsType<AlpacaTemplate>(ChatTemplate.Choose(null, DataFormat.Alpaca, never));
        Assert.IsType<RawTemplate>(ChatTemplate.Choose(null, DataFormat.Text, never));
        Assert.IsType<VicunaTemplate>(ChatTemplate.Choose("vicuna_v1.1", DataFormat.ShareGpt, never));
        Assert.Same(zephyr, ChatTemplate.Choose("chat", DataFormat.Alpaca, () => zephyr));
        var ex = Assert.Throws<EngineException>(() => ChatTemplate.Choose("chat", DataFormat.ShareGpt, () => null));
        Assert.Contains("the model has no chat template", ex.Message);
    }

    [Fact]
    public void Prepare_uses_the_model_template_for_ShareGPT_data()
    {
        var data = DataTestUtil.WithFile("d.json", "[{\"conversations\": [{\"from\": \"human\", \"value\": \"Hi\"}, {\"from\": \"gpt\", \"value\": \"Yo\"}]}]",
            path => TrainingData.Prepare(new DataOptions { DataPath = path, MaxLength = 64, ModelTemplate = Zephyr }, new WordTokenizer(specials: ["<|user|>", "<|assistant|>"])));
        Assert.Equal("chat", data.Template.Name);
        Assert.Equal(2, data.TrainStats.LearnedTokens); // "Yo" and </s>
    }

    /// <summary>The public preview with a tokenizer whose folder holds a tokenizer_config.json with HF's Llama-2
    /// chat template: the rendered text is the template's output (jinja2's, see TemplateRenderTests) and the learned
    /// tokens are the reply and its EOS.</summary>
    [Fact]
    public void Data_preview_renders_with_the_template_beside_the_tokenizer()
    {
        using var d = new TempDir();
        File.Copy(SharedData.Require("llama2-tokenizer/tokenizer.model"), d.File("tokenizer.model"));
        File.WriteAllText(d.File("tokenizer_config.json"), JsonSerializer.Serialize(new { chat_template = TemplateFixtures.Text("llama2_chat"), bos_token = "<s>", eos_token = "</s>" }));
        File.WriteAllText(d.File("data.jsonl"), "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}]}\n");
        var json = DataPreviewer.Render(d.File("data.jsonl"), new DataPreviewOptions { Tokenizer = d.File("tokenizer.model") }, json: true);
        using var doc = JsonDocument.Parse(json);
        var s = doc.RootElement[0];
        Assert.Equal("<s>[INST] Hi [/INST] Hello! </s>", s.GetProperty("rendered_text").GetString());
        var tokens = s.GetProperty("tokens").EnumerateArray().Select(t => (t.GetProperty("piece").GetString(), t.GetProperty("learned").GetBoolean())).ToList();
        Assert.Equal(("<s>", false), tokens[0]);
        Assert.Equal(1, tokens.Count(t => t.Item1 == "<s>"));
        Assert.Equal(("</s>", true), tokens[^1]);
        // Learned: the tokens of " Hello! " (Meta's encoding of the answer) and </s>.
        var learned = tokens.Where(t => t.Item2).Select(t => t.Item1).ToList();
        Assert.Equal(new[] { "▁Hello", "!", "▁", "</s>" }, learned);
    }
}
