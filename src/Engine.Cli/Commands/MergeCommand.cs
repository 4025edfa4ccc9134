using System.CommandLine;
using Engine.Api;

namespace Engine.Cli.Commands;

/// <summary><c>engine merge</c>: folds a PEFT LoRA adapter into its base (dense or NF4) and saves an HF folder.</summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var tokenizer = CommonOptions.Tokenizer();
        var adapter = new Option<string>("--adapter") { Description = "the PEFT LoRA adapter folder to merge", Required = true };
        var output = new Option<string>("--out") { Description = "output folder", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "dtype of the saved weights: f16 | bf16 | f32", DefaultValueFactory = _ => "bf16" };
        var cmd = new Command("merge", "merge a LoRA adapter into its base model and save an HF folder")
        {
            model, tokenizer, adapter, output, dtype,
        };
        cmd.SetAction(p => CliRunner.Run(p, ctx =>
        {
            var r = ModelFiles.Merge(ctx.Get(model), ctx.Get(adapter), ctx.Get(output), ctx.Get(dtype), ctx.Get(tokenizer));
            ctx.Output.WriteLine($"merged {r.MergedProjections} adapted projections into {(r.QuantizedBase ? "the dequantized NF4 base" : "the base")}; " +
                                 $"wrote {r.OutputDir} ({r.DType})");
            return 0;
        }));
        return cmd;
    }
}
