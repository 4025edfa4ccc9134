using System.CommandLine;
using Engine.Api;

namespace Engine.Cli.Commands;

/// <summary><c>engine quantize</c>: writes an HF folder whose projections are bitsandbytes NF4; see
/// <see cref="ModelFiles.Quantize"/>.</summary>
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
            var r = ModelFiles.Quantize(ctx.Get(model), ctx.Get(output), ctx.Get(type), !ctx.Get(noDq), ctx.Get(tokenizer));
            ctx.Output.WriteLine($"quantized {r.QuantizedProjections} projections to {(r.DoubleQuant ? "NF4 + double quant" : "NF4")}: " +
                                 $"base weights {Size(r.Bf16Bytes)} as bf16 → {Size(r.QuantizedBytes)}; wrote {r.OutputDir}");
            return 0;
        }));
        return cmd;
    }

    internal static string Size(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB" : $"{bytes / (double)(1 << 20):F2} MiB";
}
