// LoRA-fine-tunes a model through the Engine package, generates with the result and exports it as a q8_0 GGUF.
//   dotnet run                   the built-in demo model on its sample conversations
//   dotnet run -- MODEL [DATA]   a model (HF folder, llama2.c .bin or .gguf) and training data
using Engine;
using Engine.Api;

string? model = args.Length > 0 ? args[0] : null;
string? data = args.Length > 1 ? args[1] : null;
var outDir = Path.GetFullPath("embedding-out");
try
{
    var options = new FineTuneOptions
    {
        Mode = FineTuneMode.Lora, Model = model, Data = data, OutputDir = outDir, OverwriteOutputDir = true,
        MaxSteps = 30, LoggingSteps = 5, MaxLength = 128, LearningRate = model is null ? null : 2e-3f,
    };
    var result = FineTuning.Run(options, p => Console.WriteLine($"step {p.Step}/{p.TotalSteps} loss {p.Loss:F4}"));
    Console.WriteLine($"trained {result.Steps} steps, final loss {result.FinalLoss:F4}, adapter in {result.OutputDir}");

    using var trained = result.OpenModel();
    var prompt = model is null ? "USER: What is LoRA? ASSISTANT:" : "Once upon a time";
    var output = trained.Generate(prompt, new GenerationOptions { Temperature = 0, MaxNewTokens = 24 });
    Console.WriteLine($"generated {output.NewTokens} tokens: {output.NewText}");

    var gguf = trained.ExportGguf(Path.Combine(outDir, "model-q8_0.gguf"), new GgufExportOptions { Type = "q8_0" });
    Console.WriteLine($"wrote {gguf.Path} ({gguf.Tensors.Count} tensors, {gguf.Bytes} bytes, {gguf.Type})");
    return 0;
}
catch (EngineException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
