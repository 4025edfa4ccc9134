using System.CommandLine;
using System.Text.Json;
using Engine.Api;

namespace Engine.Cli.Commands;

/// <summary><c>engine info --model PATH</c>: architecture, sizes, format and tokenizer of a model.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var tokenizer = CommonOptions.Tokenizer();
        var cmd = new Command("info", "describe a model: format, architecture, parameter count, tokenizer") { model, tokenizer, CommonOptions.Json };
        cmd.SetAction(p => CliRunner.Run(p, ctx =>
        {
            var i = EngineModel.Inspect(ctx.Get(model), ctx.Get(tokenizer));
            if (ctx.Get(CommonOptions.Json)) { ctx.Output.WriteLine(JsonSerializer.Serialize(i, CliJson.Default.ModelInfo)); return 0; }
            ctx.Output.WriteLine($"{i.Path} ({i.Format})");
            ctx.Output.WriteLine($"  {i.ModelType}: {i.NumHiddenLayers} layers, hidden {i.HiddenSize}, intermediate {i.IntermediateSize}, heads {i.NumAttentionHeads} (kv {i.NumKeyValueHeads}, head dim {i.HeadDim})");
            ctx.Output.WriteLine($"  vocab {i.VocabSize}, context {i.MaxPositionEmbeddings}, rms eps {i.RmsNormEps:G}, rope theta {i.RopeTheta:G}{(i.RopeScaling is null ? "" : $" ({i.RopeScaling} scaling)")}, tied embeddings {i.TieWordEmbeddings}" +
                                 (i.SlidingWindow is int w ? $", sliding window {w}" : ""));
            ctx.Output.WriteLine($"  parameters {i.Parameters:N0}" +
                                 (i.Quantization is null ? "" : $" ({i.QuantizedProjections} projections in {i.Quantization.ToUpperInvariant()})"));
            ctx.Output.WriteLine($"  tokenizer {i.Tokenizer ?? "none found"}{(i.TokenizerVocabSize is int v ? $" ({v} tokens)" : "")}");
            return 0;
        }));
        return cmd;
    }
}
