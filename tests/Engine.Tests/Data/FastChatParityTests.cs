using Engine.Data;
using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Data;

/// <summary>Our span-based masks against FastChat's own length-counting procedure (train.py preprocess, legacy Llama
/// tokenizer), re-implemented here, on every conversation of the real FastChat files.</summary>
public class FastChatParityTests
{
    [Theory]
    [InlineData("datasets/fastchat_dummy_conversation.json")]
    [InlineData("datasets/fastchat_dummy_conversation_with_system.json")]
    public void Labels_equal_FastChat_preprocess_on_the_dummy_conversations(string file)
    {
        AssertParity(DataReader.Read(SharedData.Require(file)), new WordTokenizer());
    }

    internal static void AssertParity(Dataset data, ITokenizer tok)
    {
        var template = new VicunaTemplate();
        var encoder = new SampleEncoder(tok, template, 2048);
        foreach (var sample in data.Samples)
        {
            var e = encoder.Encode(sample)!;
            var prompt = TemplateSegment.ToText(template.Render(sample));
            var expected = FastChatLabels(prompt, e.InputIds, tok);
            Assert.True(expected.SequenceEqual(e.Labels), $"sample {sample.Index} ({sample.Id}): labels differ from FastChat's");
        }
    }

    /// <summary>FastChat's preprocess: mask BOS, then per "&lt;/s&gt;"-separated turn mask
    /// len(tokenizer(instruction)) − 2 tokens and advance by len(tokenizer(turn)); mask everything after the last turn.
    /// tokenizer(x) = BOS + x's pieces.</summary>
    private static int[] FastChatLabels(string prompt, int[] inputIds, ITokenizer tok)
    {
        const int Ignore = EncodedSample.IgnoreIndex;
        const string sep = " ASSISTANT: ";
        var target = (int[])inputIds.Clone();
        int curLen = 1;
        target[0] = Ignore;
        foreach (var turn in prompt.Split("</s>"))
        {
            if (turn == "") break;
            int turnLen = 1 + tok.Encode(turn).Length;
            var parts = turn.Split(sep);
            if (parts.Length != 2) break;
            int instructionLen = 1 + tok.Encode(parts[0] + sep).Length - 2;
            for (int i = curLen; i < Math.Min(curLen + instructionLen, target.Length); i++) target[i] = Ignore;
            curLen += turnLen;
        }
        for (int i = curLen; i < target.Length; i++) target[i] = Ignore;
        Assert.Equal(inputIds.Length, curLen); // FastChat masks the whole sample (with a warning) when this fails
        return target;
    }
}
