using System.CommandLine;
using System.Text.Json;
using Engine.Api;

namespace Engine.Cli.Commands;

/// <summary><c>engine generate</c>: continue a prompt with a KV cache; greedy at temperature 0.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var tokenizer = CommonOptions.Tokenizer();
        var adapter = CommonOptions.Adapter("a PEFT LoRA adapter folder applied on top of the model");
        var prompt = new Option<string>("--prompt") { Description = "text to continue (BOS is prepended when the tokenizer adds one; with --chat, the user message)", DefaultValueFactory = _ => "" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "tokens to generate at most", DefaultValueFactory = _ => 256 };
        var temperature = new Option<float>("--temperature") { Description = "sampling temperature; 0 = greedy", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "sample among the K most likely tokens (0 = all)", DefaultValueFactory = _ => 40 };
        var topP = new Option<float>("--top-p") { Description = "nucleus sampling mass (1 = off)", DefaultValueFactory = _ => 0.95f };
        var seed = new Option<ulong>("--seed") { Description = "random seed for sampling", DefaultValueFactory = _ => 42UL };
        var noStop = new Option<bool>("--ignore-eos") { Description = "keep generating after the end-of-sequence token" };
        var chat = new Option<bool>("--chat") { Description = "treat --prompt as a user message: wrap it in the model's own chat template (with the generation prompt) and stop at its end-of-turn tokens" };
        var system = new Option<string?>("--system") { Description = "with --chat: a system message before the user's" };
        var kvCache = new Option<string>("--kv-cache") { Description = "KV cache element type: auto (f16 for a GGUF model held in its quantized blocks on the CPU, as llama.cpp; else the device's activation type) | f32 | f16 | q8_0 (ggml q8_0 blocks, 34 bytes per 32 values, as llama.cpp's --cache-type-k/-v q8_0; CPU only, head dim a multiple of 32)", DefaultValueFactory = _ => "auto" };
        var cmd = new Command("generate", "generate text from a prompt (KV cache; greedy, temperature, top-k, top-p)")
        {
            model, tokenizer, adapter, prompt, maxNew, temperature, topK, topP, seed, noStop, chat, system, kvCache, CommonOptions.Json,
        };
        cmd.SetAction(p => CliRunner.Run(p, ctx =>
        {
            using var m = EngineModel.Load(ctx.Get(model), new ModelOptions { Device = ctx.DeviceSpec, Tokenizer = ctx.Get(tokenizer), Adapter = ctx.Get(adapter) });
            var options = new GenerationOptions
            {
                MaxNewTokens = ctx.Get(maxNew), Temperature = ctx.Get(temperature), TopK = ctx.Get(topK), TopP = ctx.Get(topP),
                Seed = ctx.Get(seed), IgnoreEos = ctx.Get(noStop), Chat = ctx.Get(chat), System = ctx.Get(system),
                KvCache = ctx.Get(kvCache),
            };
            if (ctx.Get(CommonOptions.Json))
            {
                ctx.Output.WriteLine(JsonSerializer.Serialize(m.Generate(ctx.Get(prompt), options), CliJson.Default.GenerationResult));
                return 0;
            }
            m.Generate(ctx.Get(prompt), options, piece =>
            {
                ctx.Output.Write(piece);
                ctx.Output.Flush();
            });
            ctx.Output.WriteLine();
            return 0;
        }));
        return cmd;
    }
}
