using System.CommandLine;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Tensors;

namespace Engine.Cli.Commands;

/// <summary><c>engine quantize</c>: writes an HF folder whose projections are bitsandbytes NF4 (what transformers saves
/// for a model loaded with BitsAndBytesConfig(load_in_4bit=True, nf4, compute dtype bfloat16) and torch_dtype
/// bfloat16); embeddings, norms and the LM head in bf16. Quantization is host work, so it runs on the CPU.</summary>
public static class QuantizeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var tokenizer = CommonOptions.Tokenizer();
        var type = new Option<string>("--type") { Description = "quantization type: nf4", DefaultValueFactory = _ => "nf4" };
        var noDq = new Option<bool>("--no-double-quant") { Description = "keep the NF4 block scales in fp32 instead of 8 bits" };
        var output = new Option<string>("--out") { Description = "output folder", Required = true };
        var cmd = new Command("quantize", "quantize a model's projections to NF4 (bitsandbytes format, loadable by transformers and engine)")
        {
            model, tokenizer, type, noDq, output,
        };
        cmd.SetAction(p => CliRunner.Run(p, ctx =>
        {
            var t = ctx.Get(type).ToLowerInvariant();
            if (t != "nf4") throw new EngineException($"--type: only nf4 is supported here, got \"{ctx.Get(type)}\"");
            bool dq = !ctx.Get(noDq);
            var options = new WeightOptions { Nf4 = new Nf4Options(dq) };
            using var loaded = ModelLoader.Load(ctx.Get(model), CpuBackend.Instance, options, ctx.Get(tokenizer));
            var sizes = Nf4Quantization.Sizes(loaded.Model);
            var outDir = ctx.Get(output);
            HfModelWriter.Save(loaded.Model, outDir, DType.BF16, loaded.TokenizerPath);
            ctx.Output.WriteLine($"quantized {sizes.QuantizedProjections} projections to {(dq ? "NF4 + double quant" : "NF4")}: " +
                                 $"base weights {Size(sizes.Bf16)} as bf16 → {Size(sizes.Quantized)}; wrote {outDir}");
            return 0;
        }));
        return cmd;
    }

    internal static string Size(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB" : $"{bytes / (double)(1 << 20):F2} MiB";
}
