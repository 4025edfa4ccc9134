using Engine.Templating;

namespace Engine.Tests.Templating;

/// <summary>What the interpreter refuses and how it says so: the template's name, line and column, and what was
/// wrong. Positions are 1-based and point at the offending token (hand-counted in each template below).</summary>
public class TemplateErrorTests
{
    private static EngineException Fails(string template, Dictionary<string, object?>? context = null) =>
        Assert.Throws<EngineException>(() => JinjaTemplate.Parse(template, "t.jinja").Render(context ?? new()));

    [Theory]
    [InlineData("{% include 'x.jinja' %}", "t.jinja:1:4: unsupported statement '{% include %}'")]
    [InlineData("ab\n  {% extends 'base' %}", "t.jinja:2:6: unsupported statement '{% extends %}'")]
    [InlineData("{% call m() %}{% endcall %}", "t.jinja:1:4: unsupported statement '{% call %}'")]
    [InlineData("{{ x | format(1) }}", "t.jinja:1:8: unsupported filter 'format'")]
    [InlineData("{{ x is nonsense }}", "t.jinja:1:9: unsupported test 'nonsense'")]
    [InlineData("{% for x in y recursive %}{% endfor %}", "t.jinja:1:15: unsupported: recursive for loops")]
    [InlineData("line\n{% if x %}never closed", "t.jinja:2:4: 'if' is not closed: expected {% elif %} or {% else %} or {% endif %}")]
    [InlineData("{% endif %}", "t.jinja:1:4: unexpected '{% endif %}' with no open statement")]
    [InlineData("{{ 1 + }}", "t.jinja:1:8: unexpected '}}' in an expression")]
    [InlineData("{{ 'abc }}", "t.jinja:1:4: string literal not closed")]
    [InlineData("{# never closed", "t.jinja:1:1: comment not closed")]
    [InlineData("{{ f(*args) }}", "t.jinja:1:6: unsupported: *args / **kwargs")]
    public void Unsupported_or_malformed_templates_are_refused_with_name_line_and_column(string template, string expected)
    {
        var ex = Assert.Throws<EngineException>(() => JinjaTemplate.Parse(template, "t.jinja"));
        Assert.Contains(expected, ex.Message);
    }

    [Theory]
    [InlineData("a\n  {{ foo.bar }}", "t.jinja:2:9: 'foo' is undefined")]
    [InlineData("{{ messages[0].content.nope() }}", "t.jinja:1:28: 'str object' has no attribute 'nope'")]
    [InlineData("{{ 1 + 'a' }}", "t.jinja:1:6: unsupported operand type(s) for +: 'int' and 'str'")]
    [InlineData("{{ 1 // 0 }}", "t.jinja:1:6: division by zero")]
    [InlineData("{{ none.x.y }}", "t.jinja:1:10: 'None' has no attribute 'x'")]
    [InlineData("{% set x = 1 %}{% set x.y = 2 %}", "t.jinja:1:23: cannot assign attribute 'y' on 'x'")]
    [InlineData("{{ messages.append(1) }}", "t.jinja:1:12: access to attribute 'append' of 'list' object is unsafe")]
    [InlineData("{{ 'a' % 1 }}", "t.jinja:1:8: printf-style string formatting with % is not supported")]
    [InlineData("{{ undefined_thing + 1 }}", "t.jinja:1:20: 'undefined_thing' is undefined")]
    [InlineData("{{ {'a': 1} | tojson(indent=none) ~ nope | tojson }}", "is not JSON serializable")]
    [InlineData("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", "t.jinja:1:21: macro 'r': calls nested deeper than 100")]
    public void Runtime_errors_name_the_template_line_and_column(string template, string expected)
    {
        var ctx = new Dictionary<string, object?> { ["messages"] = new List<object?> { new Dictionary<string, object?> { ["content"] = "hi" } } };
        Assert.Contains(expected, Fails(template, ctx).Message);
    }

    [Fact]
    public void Raise_exception_surfaces_the_templates_message_and_where_it_was_raised()
    {
        var ex = Fails("{% if true %}\n   {{ raise_exception('Conversation roles must alternate!') }}{% endif %}");
        Assert.Equal("chat template t.jinja:2:22: raise_exception: Conversation roles must alternate!", ex.Message);
    }
}
