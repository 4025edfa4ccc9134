using System.CommandLine;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Tensors;
using Engine.Training;

namespace Engine.Cli.Commands;

/// <summary><c>engine merge</c>: folds a PEFT LoRA adapter into its base (dense or NF4) and saves an HF folder.
/// Host work, so it runs on the CPU.</summary>
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
            var storeAs = TrainJob.ParseDType(ctx.Get(dtype));
            using var loaded = ModelLoader.Load(ctx.Get(model), CpuBackend.Instance, new WeightOptions(), ctx.Get(tokenizer));
            bool quantized = Nf4Quantization.Sizes(loaded.Model).QuantizedProjections > 0;
            int merged = AdapterMerge.Merge(loaded.Model, ctx.Get(adapter), storeAs);
            var outDir = ctx.Get(output);
            HfModelWriter.Save(loaded.Model, outDir, storeAs, loaded.TokenizerPath);
            ctx.Output.WriteLine($"merged {merged} adapted projections into {(quantized ? "the dequantized NF4 base" : "the base")}; " +
                                 $"wrote {outDir} ({storeAs.Name()})");
            return 0;
        }));
        return cmd;
    }
}
