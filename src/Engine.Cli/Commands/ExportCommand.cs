using System.CommandLine;
using System.Text.Json;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Quant;

namespace Engine.Cli.Commands;

/// <summary><c>engine export gguf --model PATH [--adapter DIR] --type T --out FILE</c>: write a model (with a LoRA
/// adapter merged in) as a GGUF file for llama.cpp, Ollama and LM Studio.</summary>
public static class ExportCommand
{
    private static readonly string TypeNames = string.Join("|", Enum.GetValues<GgmlType>().Select(t => t.Name()));

    public static Command Create()
    {
        var model = CommonOptions.Model();
        var tokenizer = CommonOptions.Tokenizer();
        var adapter = new Option<string?>("--adapter") { Description = "a PEFT LoRA adapter folder, merged into the weights before export" };
        var type = new Option<string>("--type") { Description = $"storage type of the 2-D weights: {TypeNames} (norms stay f32)", Required = true };
        var output = new Option<string>("--out") { Description = "the .gguf file to write", Required = true };
        var name = new Option<string?>("--name") { Description = "general.name in the file (default: the output file name)" };
        var gguf = new Command("gguf", "write the model as a GGUF file (llama.cpp's llama architecture and SentencePiece vocabulary)")
        {
            model, tokenizer, adapter, type, output, name, CommonOptions.Json,
        };
        gguf.SetAction(p => CliRunner.Run(p, ctx =>
        {
            var typeName = ctx.Get(type);
            if (!GgmlTypes.TryParse(typeName, out var ggmlType))
                throw new EngineException($"--type {typeName}: unknown type; choose one of {TypeNames}");
            var outPath = ctx.Get(output);
            // Export reads every weight back as fp32 anyway, so the model is loaded on the CPU whatever --device says.
            using var m = ModelLoader.Load(ctx.Get(model), CpuBackend.Instance, new WeightOptions(), ctx.Get(tokenizer));
            var tok = m.RequireTokenizer();
            if (ctx.Get(adapter) is string dir)
            {
                using var lora = PeftAdapterIO.Load(m.Model, dir);
                LoraAdapter.MergeInto(m.Model);
            }
            var report = GgufExporter.Export(m.Model, tok, ggmlType, outPath, ctx.Get(name));
            long bytes = new FileInfo(outPath).Length;
            if (ctx.Get(CommonOptions.Json))
            {
                ctx.Output.WriteLine(JsonSerializer.Serialize(new
                {
                    path = outPath, type = ggmlType.Name(), bytes,
                    tensors = report.Tensors.Select(t => new { name = t.Name, type = t.Type.Name(), shape = t.Shape }),
                    notes = report.Notes,
                }));
                return 0;
            }
            var counts = report.Tensors.GroupBy(t => t.Type).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key.Name()}");
            ctx.Output.WriteLine($"wrote {outPath}: {report.Tensors.Count} tensors ({string.Join(", ", counts)}), {bytes:N0} bytes");
            foreach (var note in report.Notes) ctx.Output.WriteLine($"note: {note}");
            return 0;
        }));
        return new Command("export", "write a model in another format") { gguf };
    }
}
