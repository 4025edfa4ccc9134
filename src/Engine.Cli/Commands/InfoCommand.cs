using System.CommandLine;
using System.Text.Json;
using Engine.Checkpoints;
using Engine.Models;

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
            using var m = ModelLoader.Load(ctx.Get(model), Backends.Cpu.CpuBackend.Instance, new WeightOptions(), ctx.Get(tokenizer));
            var c = m.Model.Config;
            var sizes = Nf4Quantization.Sizes(m.Model);
            var info = new
            {
                path = m.SourcePath,
                format = m.Format.ToString(),
                hidden_size = c.HiddenSize, intermediate_size = c.IntermediateSize, num_hidden_layers = c.NumLayers,
                num_attention_heads = c.NumHeads, num_key_value_heads = c.NumKvHeads, head_dim = c.HeadDim,
                vocab_size = c.VocabSize, max_position_embeddings = c.MaxPositionEmbeddings, rms_norm_eps = c.RmsNormEps,
                rope_theta = c.RopeTheta, tie_word_embeddings = c.TieWordEmbeddings, bos_token_id = c.BosTokenId, eos_token_id = c.EosTokenId,
                parameters = sizes.Bf16 / 2,
                quantization = sizes.QuantizedProjections == 0 ? null : sizes.DoubleQuant ? "nf4+dq" : "nf4",
                tokenizer = m.TokenizerPath ?? (m.Tokenizer is not null ? "embedded" : null),
                tokenizer_vocab_size = m.Tokenizer?.VocabSize,
            };
            if (ctx.Get(CommonOptions.Json)) { ctx.Output.WriteLine(JsonSerializer.Serialize(info)); return 0; }
            ctx.Output.WriteLine($"{info.path} ({info.format})");
            ctx.Output.WriteLine($"  llama: {c.NumLayers} layers, hidden {c.HiddenSize}, intermediate {c.IntermediateSize}, heads {c.NumHeads} (kv {c.NumKvHeads}, head dim {c.HeadDim})");
            ctx.Output.WriteLine($"  vocab {c.VocabSize}, context {c.MaxPositionEmbeddings}, rms eps {c.RmsNormEps:G}, rope theta {c.RopeTheta:G}, tied embeddings {c.TieWordEmbeddings}");
            ctx.Output.WriteLine($"  parameters {info.parameters:N0}" +
                                 (info.quantization is null ? "" : $" ({sizes.QuantizedProjections} projections in {info.quantization.ToUpperInvariant()})"));
            ctx.Output.WriteLine($"  tokenizer {info.tokenizer ?? "none found"}{(m.Tokenizer is not null ? $" ({m.Tokenizer.VocabSize} tokens)" : "")}");
            return 0;
        }));
        return cmd;
    }
}
