using System.Text.Json;
using Engine.Data;
using Engine.Tests.Support;

namespace Engine.Tests.Data;

public class PreviewAndPipelineTests
{
    [Fact]
    public void Preview_shows_rendered_text_tokens_and_learned_marks()
    {
        var tok = new WordTokenizer();
        var samples = new Sample[] { DataTestUtil.Conversation("S", "hi", "yo") with { Id = "c1" }, DataTestUtil.Conversation("S", "x", "y") };
        var preview = DataPreview.Build(samples, new VicunaTemplate(), tok, count: 1, maxLength: 512);
        var p = Assert.Single(preview);
        Assert.Equal("S USER: hi ASSISTANT: yo</s>", p.RenderedText);
        Assert.Equal(new[] { "<s>", "▁S", "▁USER:", "▁hi", "▁ASSISTANT:", "▁yo", "</s>" }, p.Tokens.Select(t => t.Piece));
        Assert.Equal(new[] { false, false, false, false, false, true, true }, p.Tokens.Select(t => t.Learned));
        Assert.Equal(2, p.LearnedCount);

        var text = DataPreview.ToText(preview);
        Assert.Contains("=== sample 0 (id \"c1\"): 7 tokens, 2 learned ===\nS USER: hi ASSISTANT: yo</s>\n", text);
        int yo = tok.PieceToId("▁yo");
        Assert.Contains($"1:<s> 3:▁S 4:▁USER: 5:▁hi 6:▁ASSISTANT: [{yo}:▁yo] [2:</s>]", text);
        Assert.Contains($"\u001b[32m{yo}:▁yo\u001b[0m", DataPreview.ToText(preview, color: true));

        using var doc = JsonDocument.Parse(DataPreview.ToJson(preview));
        var s0 = doc.RootElement[0];
        Assert.Equal("c1", s0.GetProperty("id").GetString());
        Assert.Equal("S USER: hi ASSISTANT: yo</s>", s0.GetProperty("rendered_text").GetString());
        Assert.Equal(7, s0.GetProperty("tokens").GetArrayLength());
        Assert.True(s0.GetProperty("tokens")[5].GetProperty("learned").GetBoolean());
        Assert.Equal("▁yo", s0.GetProperty("tokens")[5].GetProperty("piece").GetString());
    }

    [Fact]
    public void Preview_marks_truncation()
    {
        var tok = new WordTokenizer();
        var p = DataPreview.Build(new Sample[] { new TextSample(0, null, "a b c d") }, new RawTemplate(), tok, 5, maxLength: 3)[0];
        Assert.Equal(3, p.Tokens.Count);
        Assert.Equal(6, p.FullLength);
        Assert.True(p.Truncated);
        Assert.Contains("truncated from 6", DataPreview.ToText(new[] { p }));
    }

    [Fact]
    public void Prepare_reads_splits_encodes_and_batches_the_FastChat_file()
    {
        var tok = new WordTokenizer();
        var options = new DataOptions
        {
            DataPath = SharedData.Require("datasets/fastchat_dummy_conversation.json"),
            EvalSplit = 0.05,
            MaxLength = 512,
            BatchSize = 8,
            Seed = 7,
        };
        var data = TrainingData.Prepare(options, tok);
        Assert.Equal("vicuna_v1.1", data.Template.Name);
        Assert.Equal(0, data.PadId); // no pad token: UNK, as FastChat does for Llama
        Assert.Equal(475, data.TrainStats.Kept);
        Assert.Equal(25, data.EvalStats!.Kept);
        Assert.Equal(60, data.Train.BatchesPerEpoch);
        var batch = data.Train.Next();
        Assert.Equal(8, batch.BatchSize);
        Assert.Equal(batch.BatchSize * batch.SeqLen, batch.Targets.Length);
        Assert.Equal(batch.Targets.Count(t => t != -100), batch.LearnedTokens);
        Assert.False(data.Eval!.Shuffle);

        var packed = TrainingData.Prepare(options with { Packing = true, MaxLength = 64, EvalSplit = 0 }, tok);
        Assert.All(packed.Train.Sequences, s => Assert.InRange(s.Length, 1, 64));
        Assert.Null(packed.Eval);
        // Whole samples, each in one row: as many segments as kept samples.
        Assert.Equal(packed.TrainStats.Kept, packed.Train.Sequences.Sum(s => s.SegmentStarts?.Distinct().Count() ?? 1));
        // Packing loses no learned token.
        long learned = packed.Train.Sequences.Sum(s => (long)s.LearnedCount);
        Assert.Equal(packed.TrainStats.LearnedTokens, learned);
    }

    [Fact]
    public void Prepare_with_a_separate_eval_file_and_train_on_inputs()
    {
        using var dir = new TempDir();
        var train = dir.File("train.txt");
        var eval = dir.File("eval.csv");
        File.WriteAllText(train, "one two\n\nthree four five\n");
        File.WriteAllText(eval, "text\n\"six, seven\"\n");
        var data = TrainingData.Prepare(new DataOptions { DataPath = train, EvalDataPath = eval, MaxLength = 16 }, new WordTokenizer(padId: 3));
        Assert.Equal("raw", data.Template.Name);
        Assert.Equal(3, data.PadId);
        Assert.Equal(2, data.Train.Count);
        Assert.Equal(1, data.Eval!.Count);
        Assert.Equal(3, data.Eval.GetBatch(0, 0).LearnedTokens); // targets "▁six," "▁seven" "</s>"
    }
}
