using System.CommandLine;
using System.Text.Json;
using Engine.Api;

namespace Engine.Cli.Commands;

/// <summary><c>engine export gguf --model PATH [--adapter DIR] --type T [--pure] --out FILE</c>: write a model (with a LoRA
/// adapter merged in) as a GGUF file for llama.cpp, Ollama and LM Studio; <c>engine export gguf-lora --model PATH --adapter DIR
/// --out FILE</c>: write the adapter alone as a llama.cpp LoRA GGUF (llama-cli --lora).</summary>
public static class ExportCommand
{
    private static readonly string TypeNames = string.Join("|", GgufExport.Types);

    public static Command Create()
    {
        var model = CommonOptions.Model();
        var tokenizer = CommonOptions.Tokenizer();
        var adapter = CommonOptions.Adapter("a PEFT LoRA adapter folder, merged into the weights before export (an NF4 base is dequantized)");
        var type = new Option<string>("--type")
        {
            Description = $"storage type of the 2-D weights: {TypeNames} (norms stay f32; the k-quant file types mix per tensor as llama-quantize does, q4_k/q5_k are pure)",
            Required = true,
        };
        var pure = new Option<bool>("--pure") { Description = "as llama-quantize --pure: every 2-D weight in the type's base block type, no per-tensor mixture" };
        var output = new Option<string>("--out") { Description = "the .gguf file to write", Required = true };
        var name = new Option<string?>("--name") { Description = "general.name in the file (default: the output file name)" };
        var modelfile = new Option<bool>("--modelfile") { Description = "also write an Ollama Modelfile beside the GGUF (model.gguf → model.Modelfile): FROM, the model's chat template in Ollama's syntax, stop tokens" };
        var gguf = new Command("gguf", "write the model as a GGUF file (llama.cpp's llama architecture and SentencePiece vocabulary)")
        {
            model, tokenizer, adapter, type, pure, output, name, modelfile, CommonOptions.Json,
        };
        gguf.SetAction(p => CliRunner.Run(p, ctx =>
        {
            var r = ModelFiles.ExportGguf(ctx.Get(model), ctx.Get(output), new GgufExportOptions { Type = ctx.Get(type), Pure = ctx.Get(pure), Name = ctx.Get(name), Modelfile = ctx.Get(modelfile) },
                ctx.Get(adapter), ctx.Get(tokenizer));
            if (ctx.Get(CommonOptions.Json))
            {
                ctx.Output.WriteLine(JsonSerializer.Serialize(r, CliJson.Default.GgufExportResult));
                return 0;
            }
            var counts = r.Tensors.GroupBy(t => t.Type).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}");
            ctx.Output.WriteLine($"wrote {r.Path}: {r.Tensors.Count} tensors ({string.Join(", ", counts)}), {r.Bytes:N0} bytes");
            if (r.ModelfilePath is not null) ctx.Output.WriteLine($"wrote {r.ModelfilePath} (ollama create NAME -f {r.ModelfilePath})");
            foreach (var note in r.Notes) ctx.Output.WriteLine($"note: {note}");
            return 0;
        }));
        return new Command("export", "write a model in another format") { gguf, CreateLora() };
    }

    private static Command CreateLora()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string>("--adapter") { Description = "the PEFT LoRA adapter folder to write", Required = true };
        var type = new Option<string>("--type") { Description = "storage type of the lora_a/lora_b tensors: f32|f16", DefaultValueFactory = _ => "f32" };
        var output = new Option<string>("--out") { Description = "the .gguf adapter file to write", Required = true };
        var name = new Option<string?>("--name") { Description = "general.name in the file (default: the output file name)" };
        var lora = new Command("gguf-lora", "write a LoRA adapter as a llama.cpp LoRA adapter GGUF, applied at run time to the base exported with `export gguf`")
        {
            model, adapter, type, output, name, CommonOptions.Json,
        };
        lora.SetAction(p => CliRunner.Run(p, ctx =>
        {
            var r = ModelFiles.ExportGgufLora(ctx.Get(model), ctx.Get(adapter), ctx.Get(output), ctx.Get(type), ctx.Get(name));
            if (ctx.Get(CommonOptions.Json))
            {
                ctx.Output.WriteLine(JsonSerializer.Serialize(r, CliJson.Default.GgufLoraExportResult));
                return 0;
            }
            ctx.Output.WriteLine($"wrote {r.Path}: {r.Architecture} LoRA adapter, r {r.Rank}, alpha {r.Alpha}, {r.Tensors.Count} tensors, {r.Bytes:N0} bytes");
            return 0;
        }));
        return lora;
    }
}
