using System.CommandLine;
using System.Text.Json;
using Engine.Api;

namespace Engine.Cli.Commands;

/// <summary><c>engine eval --model PATH --text FILE</c>: mean NLL per predicted token and perplexity. Each block of the
/// file (separated by blank lines, or by &lt;|endoftext|&gt; lines when the file uses them) is its own sequence; one
/// longer than the model's context is scored with a sliding window (window = the context, stride = half of it).</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var tokenizer = CommonOptions.Tokenizer();
        var adapter = CommonOptions.Adapter("a PEFT LoRA adapter folder applied on top of the model");
        var text = new Option<string>("--text") { Description = "a text file of blocks to score", Required = true };
        var cmd = new Command("eval", "score a text file: NLL per token and perplexity. Each block is its own sequence, every token " +
            "scored once; a block longer than the model's context is scored with a sliding window of the context length " +
            "and a stride of half the context (each token keeps at least half a context of left context)") { model, tokenizer, adapter, text, CommonOptions.Json };
        cmd.SetAction(p => CliRunner.Run(p, ctx =>
        {
            var blocks = TextBlocks.Read(ctx.Get(text));
            using var m = EngineModel.Load(ctx.Get(model), new ModelOptions { Device = ctx.DeviceSpec, Tokenizer = ctx.Get(tokenizer), Adapter = ctx.Get(adapter) });
            var score = m.Evaluate(blocks);
            if (ctx.Get(CommonOptions.Json))
                ctx.Output.WriteLine(JsonSerializer.Serialize(new EvalJson(score.PredictedTokens, score.MeanNll, score.Perplexity), CliJson.Default.EvalJson));
            else
                ctx.Output.WriteLine($"{score.Texts} blocks, {score.PredictedTokens} predicted tokens: NLL {score.MeanNll:F6} nats/token, perplexity {score.Perplexity:F4}");
            return 0;
        }));
        return cmd;
    }
}
