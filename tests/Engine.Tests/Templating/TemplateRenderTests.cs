using System.Text.Json;
using Engine.Templating;

namespace Engine.Tests.Templating;

/// <summary>Engine's interpreter against the real jinja2 (3.1.6 with Hugging Face's chat-template environment):
/// Reference/render.py rendered every template for every conversation, with and without add_generation_prompt (and
/// enable_thinking for Qwen 3), and the outputs must match byte for byte; where jinja2 raised (raise_exception),
/// engine must fail with the same message.</summary>
public class TemplateRenderTests
{
    [Theory]
    [InlineData("llama3_1")]
    [InlineData("llama3_2")]
    [InlineData("qwen2_5")]
    [InlineData("qwen3")]
    [InlineData("mistral_v0_1")]
    [InlineData("mistral_v0_3")]
    [InlineData("tinyllama_zephyr")]
    [InlineData("gemma2")]
    [InlineData("llama2_chat")]
    [InlineData("vicuna")]
    public void Model_templates_render_as_jinja2_does(string name)
    {
        var template = TemplateFixtures.Parse(name);
        var conversations = TemplateFixtures.Root.GetProperty("conversations");
        int n = 0;
        foreach (var c in TemplateFixtures.Cases(name))
        {
            var context = new Dictionary<string, object?>
            {
                ["messages"] = TemplateFixtures.ToValue(conversations.GetProperty(c.GetProperty("conversation").GetString()!)),
                ["bos_token"] = c.GetProperty("bos_token").GetString(),
                ["eos_token"] = c.GetProperty("eos_token").GetString(),
                ["add_generation_prompt"] = c.GetProperty("add_generation_prompt").GetBoolean(),
                ["tools"] = null,
            };
            if (c.GetProperty("enable_thinking").ValueKind != JsonValueKind.Null) context["enable_thinking"] = c.GetProperty("enable_thinking").GetBoolean();
            Check(template, context, c);
            n++;
        }
        Assert.True(n >= 8, $"only {n} reference cases for {name}");
    }

    [Theory]
    [InlineData("multi_turn")]
    [InlineData("no_system")]
    public void Every_supported_construct_renders_as_jinja2_does(string conversation)
    {
        var template = TemplateFixtures.Parse("features");
        var c = TemplateFixtures.Cases("features").Single(x => x.GetProperty("conversation").GetString() == conversation);
        var context = new Dictionary<string, object?>
        {
            ["messages"] = TemplateFixtures.ToValue(TemplateFixtures.Root.GetProperty("conversations").GetProperty(conversation)),
            ["x"] = 1L,
            ["data"] = TemplateFixtures.ToValue(c.GetProperty("data")),
        };
        Check(template, context, c);
    }

    [Theory]
    [InlineData("multi_turn")]
    [InlineData("no_system")]
    public void Whitespace_control_and_lexer_corners_render_as_jinja2_does(string conversation)
    {
        var template = TemplateFixtures.Parse("whitespace");
        var c = TemplateFixtures.Cases("whitespace").Single(x => x.GetProperty("conversation").GetString() == conversation);
        var context = new Dictionary<string, object?>
        {
            ["messages"] = TemplateFixtures.ToValue(TemplateFixtures.Root.GetProperty("conversations").GetProperty(conversation)),
        };
        Check(template, context, c);
    }

    private static void Check(JinjaTemplate template, Dictionary<string, object?> context, JsonElement c)
    {
        string label = $"{template.Name} / {c.GetProperty("conversation").GetString()} / agp={(c.TryGetProperty("add_generation_prompt", out var agp) ? agp.ToString() : "-")}";
        if (c.TryGetProperty("error", out var err))
        {
            var ex = Assert.Throws<EngineException>(() => template.Render(context, () => TemplateFixtures.FixedNow));
            Assert.Contains("raise_exception: " + err.GetString(), ex.Message);
            return;
        }
        var expected = c.GetProperty("output").GetString()!;
        var actual = template.Render(context, () => TemplateFixtures.FixedNow).Text;
        if (expected != actual)
        {
            int i = 0;
            while (i < Math.Min(expected.Length, actual.Length) && expected[i] == actual[i]) i++;
            Assert.Fail($"{label}: differs at char {i}\nexpected: {Show(expected, i)}\nactual:   {Show(actual, i)}");
        }
    }

    private static string Show(string s, int at) =>
        JsonSerializer.Serialize(s[Math.Max(0, at - 40)..Math.Min(s.Length, at + 60)]);
}
