using Engine.Data;
using Engine.Tests.Support;

namespace Engine.Tests.Data;

public class ReaderRealFileTests
{
    [Fact]
    public void FastChat_dummy_conversations()
    {
        var d = DataReader.Read(SharedData.Require("datasets/fastchat_dummy_conversation.json"));
        Assert.Equal(DataFormat.ShareGpt, d.Format);
        Assert.Equal(500, d.Samples.Count);
        var convs = d.Samples.Cast<ConversationSample>().ToList();
        Assert.Equal(167, convs.Count(c => c.Turns.Count == 2));
        Assert.Equal(166, convs.Count(c => c.Turns.Count == 4));
        Assert.Equal(167, convs.Count(c => c.Turns.Count == 6));
        Assert.All(convs, c => Assert.Null(c.System));
        Assert.Empty(d.Notes);
        var first = convs[0];
        Assert.Equal("identity_0", first.Id);
        Assert.Equal(new Turn(Role.User, "Who are you?"), first.Turns[0]);
        Assert.Equal(new Turn(Role.Assistant, "I am Vicuna, a language model trained by researchers from Large Model Systems Organization (LMSYS)."), first.Turns[1]);
        Assert.Equal(new Turn(Role.Assistant, "You too!"), first.Turns[3]);
        Assert.Equal("identity_499", convs[499].Id);
        Assert.Equal(499, convs[499].Index);
    }

    [Fact]
    public void FastChat_dummy_conversations_with_system()
    {
        var d = DataReader.Read(SharedData.Require("datasets/fastchat_dummy_conversation_with_system.json"));
        var convs = d.Samples.Cast<ConversationSample>().ToList();
        Assert.Equal(500, convs.Count);
        Assert.Equal(6, convs.Count(c => c.System is not null));
        Assert.StartsWith("A chat between a curious user and an artificial intelligence assistant whose name is Vicuna.", convs[0].System);
        var text = TemplateSegment.ToText(new VicunaTemplate().Render(convs[0]));
        Assert.StartsWith(convs[0].System + " USER: Who are you? ASSISTANT: I am Vicuna,", text);
        Assert.StartsWith(VicunaTemplate.DefaultSystem + " USER: ", TemplateSegment.ToText(new VicunaTemplate().Render(convs[6])));
    }

    [Fact]
    public void Alpaca_cleaned_1000()
    {
        var d = DataReader.Read(SharedData.Require("datasets/alpaca_data_cleaned_1000.json"));
        Assert.Equal(DataFormat.Alpaca, d.Format);
        Assert.Equal(1000, d.Samples.Count);
        var convs = d.Samples.Cast<ConversationSample>().ToList();
        Assert.Equal(409, convs.Count(c => c.Context is not null));
        Assert.Equal("What are the three primary colors?", convs[1].Turns[0].Text);
        Assert.StartsWith("The three primary colors are red, blue, and yellow.", convs[1].Turns[1].Text);
        Assert.IsType<AlpacaTemplate>(ChatTemplate.DefaultFor(d.Format));
        var text = TemplateSegment.ToText(new AlpacaTemplate().Render(convs[0]));
        Assert.StartsWith(AlpacaTemplate.PreambleNoInput + "\n\n### Instruction:\nGive three tips for staying healthy.\n\n### Response:\n1. Eat", text);
        Assert.EndsWith("</s>", text);
    }

    [Fact]
    public void TinyStories_sample_splits_on_endoftext_lines()
    {
        var d = DataReader.Read(SharedData.Require("datasets/tinystories_sample_cs336.txt"));
        Assert.Equal(DataFormat.Text, d.Format);
        Assert.Equal(5, d.Samples.Count);
        var first = (TextSample)d.Samples[0];
        Assert.StartsWith("Once upon a time there was a little boy named Ben.", first.Text);
        Assert.Contains('\n', first.Text); // paragraphs separated by single newlines stay inside the story
        Assert.EndsWith("the spirit was real and they could play together.", ((TextSample)d.Samples[4]).Text);
        Assert.All(d.Samples, s => Assert.DoesNotContain("<|endoftext|>", ((TextSample)s).Text));
    }

    [Fact]
    public void TinyStories_validation_head_splits_on_blank_lines()
    {
        var d = DataReader.Read(SharedData.Require("datasets/tinystories_validation_head.txt"));
        Assert.Equal(4302, d.Samples.Count);
        Assert.StartsWith("Spot. Spot saw the shiny car and said, \"Wow, Kitty, your car", ((TextSample)d.Samples[0]).Text);
    }
}
