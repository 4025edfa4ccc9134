using System.CommandLine;
using System.Text.Json;
using Engine.Data;
using Engine.Models;

namespace Engine.Cli.Commands;

/// <summary><c>engine eval --model PATH --text FILE</c>: mean NLL per predicted token and perplexity. Each block of the
/// file (separated by blank lines, or by &lt;|endoftext|&gt; lines when the file uses them) is its own sequence.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var tokenizer = CommonOptions.Tokenizer();
        var adapter = new Option<string?>("--adapter") { Description = "a PEFT LoRA adapter folder applied on top of the model" };
        var text = new Option<string>("--text") { Description = "a text file of blocks to score", Required = true };
        var cmd = new Command("eval", "score a text file: NLL per token and perplexity") { model, tokenizer, adapter, text, CommonOptions.Json };
        cmd.SetAction(p => CliRunner.Run(p, ctx =>
        {
            var path = ctx.Get(text);
            if (!File.Exists(path)) throw new EngineException($"--text {path}: no such file");
            var blocks = PlainTextReader.Read(File.ReadAllText(path)).Select(s => s.Text).ToList();
            if (blocks.Count == 0) throw new EngineException($"{path}: no text to score (the file is empty)");
            using var m = ModelOpening.Open(ctx, ctx.Get(model), ctx.Get(tokenizer), ctx.Get(adapter));
            var score = Perplexity.Evaluate(m.Model, m.RequireTokenizer(), blocks);
            if (ctx.Get(CommonOptions.Json))
                ctx.Output.WriteLine(JsonSerializer.Serialize(new { tokens = score.Tokens, nll = score.MeanNll, ppl = score.Ppl }));
            else
                ctx.Output.WriteLine($"{blocks.Count} blocks, {score.Tokens} predicted tokens: NLL {score.MeanNll:F6} nats/token, perplexity {score.Ppl:F4}");
            return 0;
        }));
        return cmd;
    }
}
