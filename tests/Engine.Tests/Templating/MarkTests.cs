using Engine.Templating;

namespace Engine.Tests.Templating;

/// <summary>Content marks: each rendered character can be traced to the template text or to a message's content.
/// Expected marks are hand-derived from the operation's definition (Python's str semantics).</summary>
public class MarkTests
{
    private static MarkedString M(string text, int owner) => MarkedString.Owned(text, owner);

    private static string Marked(RenderedText r, int owner) =>
        string.Concat(r.Marks.Where(m => m.Owner == owner).Select(m => r.Text.Substring(m.Start, m.Length)));

    private static RenderedText Render(string template, Dictionary<string, object?> ctx) =>
        JinjaTemplate.Parse(template, "t.jinja").Render(ctx);

    [Fact]
    public void Substring_operations_keep_the_marks_of_the_kept_characters()
    {
        var ctx = new Dictionary<string, object?> { ["a"] = M("  Hello  ", 0), ["b"] = M("x,y", 1) };
        // "[" + trim(a) + "|" + b.split(",")[1] + "|" + a[2:4] + "|" + b.replace(",", "--") + "]"
        var r = Render("[{{ a | trim }}|{{ b.split(',')[1] }}|{{ a[2:4] }}|{{ b.replace(',', '--') }}|{{ (a ~ b) | upper }}]", ctx);
        Assert.Equal("[Hello|y|He|x--y|  HELLO  X,Y]", r.Text);
        Assert.Equal(new[]
        {
            new Mark(1, 5, 0),          // Hello
            new Mark(7, 1, 1),          // y
            new Mark(9, 2, 0),          // He
            new Mark(12, 1, 1), new Mark(15, 1, 1), // x, y around the unmarked "--"
            new Mark(17, 9, 0), new Mark(26, 3, 1), // upper keeps marks (same length)
        }, r.Marks);
    }

    [Fact]
    public void Text_built_anew_carries_no_marks()
    {
        var ctx = new Dictionary<string, object?> { ["a"] = M("q\"", 0), ["n"] = 5L };
        var r = Render("{{ a | tojson }}{{ n }}{{ 'lit' }}{{ a | length }}", ctx);
        Assert.Equal("\"q\\\"\"5lit2", r.Text);
        Assert.Empty(r.Marks);
    }

    [Fact]
    public void Marks_flow_through_set_block_set_macros_join_and_namespace()
    {
        var ctx = new Dictionary<string, object?> { ["xs"] = new List<object?> { M("ab", 0), M("cd", 1) } };
        var r = Render("{% macro w(x) %}<{{ x }}>{% endmacro %}{% set ns = namespace(acc='') %}{% for x in xs %}{% set ns.acc = ns.acc ~ x %}{% endfor %}"
            + "{% set blk %}{{ w(xs[1]) }}{% endset %}{{ ns.acc }} {{ blk }} {{ xs | join('+') }}", ctx);
        Assert.Equal("abcd <cd> ab+cd", r.Text);
        Assert.Equal(new[] { new Mark(0, 2, 0), new Mark(2, 2, 1), new Mark(6, 2, 1), new Mark(10, 2, 0), new Mark(13, 2, 1) }, r.Marks);
    }

    [Fact]
    public void Llama_3_1_template_marks_exactly_each_trimmed_content_and_nothing_else()
    {
        var template = TemplateFixtures.Parse("llama3_1");
        string[] roles = ["system", "user", "assistant", "user", "assistant"];
        string[] contents = ["Be brief. ", "\nHi there", "Hello! ", "2+2?", " 4"];
        var messages = roles.Select((role, i) => (object?)new Dictionary<string, object?> { ["role"] = role, ["content"] = M(contents[i], i) }).ToList();
        var ctx = new Dictionary<string, object?> { ["messages"] = messages, ["bos_token"] = "<|begin_of_text|>", ["add_generation_prompt"] = false };
        var r = template.Render(ctx);
        for (int i = 0; i < contents.Length; i++) Assert.Equal(contents[i].Trim(), Marked(r, i));
        // Removing the marked characters leaves the template's own text: headers and end-of-turn tokens.
        var skeleton = string.Concat(r.Text.Where((_, k) => !r.Marks.Any(m => k >= m.Start && k < m.End)));
        var expected = "<|begin_of_text|>" + string.Concat(roles.Select(role => $"<|start_header_id|>{role}<|end_header_id|>\n\n<|eot_id|>"));
        Assert.Equal(expected, skeleton);
    }

    [Fact]
    public void Qwen_3_reasoning_split_keeps_marks_on_the_reasoning_and_the_answer()
    {
        var template = TemplateFixtures.Parse("qwen3");
        var messages = new List<object?>
        {
            new Dictionary<string, object?> { ["role"] = "user", ["content"] = M("Is 7 prime?", 0) },
            new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = M("<think>\nearlier\n</think>\n\nYes.", 1) },
            new Dictionary<string, object?> { ["role"] = "user", ["content"] = M("And 9?", 2) },
            new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = M("<think>\n9 = 3 * 3.\n</think>\n\nNo.", 3) },
        };
        var r = template.Render(new Dictionary<string, object?> { ["messages"] = messages, ["add_generation_prompt"] = false });
        Assert.Equal("<|im_start|>user\nIs 7 prime?<|im_end|>\n<|im_start|>assistant\nYes.<|im_end|>\n<|im_start|>user\nAnd 9?<|im_end|>\n"
            + "<|im_start|>assistant\n<think>\n9 = 3 * 3.\n</think>\n\nNo.<|im_end|>\n", r.Text);
        Assert.Equal("Yes.", Marked(r, 1));      // earlier turn: reasoning dropped, answer kept
        Assert.Equal("9 = 3 * 3.No.", Marked(r, 3)); // last turn: reasoning and answer, the think tags are the template's
        int think = r.Text.IndexOf("9 = 3", StringComparison.Ordinal);
        Assert.Contains(new Mark(think, "9 = 3 * 3.".Length, 3), r.Marks);
    }
}
