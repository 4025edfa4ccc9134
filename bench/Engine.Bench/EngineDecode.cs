using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Tensors;

namespace Engine.Bench;

/// <summary>engine's side of <see cref="GgufDecodeChild"/>: the GGUF loaded as <see cref="Api.EngineModel.Load"/>
/// loads it (CPU backend, block weights kept packed: <see cref="WeightOptions.KeepGgmlBlocks"/>), run by
/// <see cref="Generator.Step"/> with a KV cache on <see cref="CpuParallel.Threads"/> threads. <c>kvCache</c>: auto (engine
/// generate's default, f16 for a GGUF model as llama.cpp's), f32, f16 or q8_0. <c>floatProducts</c> is the float
/// reference of the same file: the weights stay packed but every product dequantizes them into the SGEMM with fp32
/// activations (<see cref="CpuBackend.GgmlFloatProducts"/>: no 8-bit rounding before the products) and, with kvCache
/// f32, an fp32 cache.</summary>
internal static class EngineDecode
{
    public static (GgufDecodeResult Result, float[] PromptLogits) Run(string path, int threads, int[] prompt, int tokens, string kvCache = "auto", bool floatProducts = false)
    {
        CpuParallel.Threads = threads;
        CpuBackend.GgmlFloatProducts = floatProducts;
        var be = CpuBackend.Instance;
        using var loaded = ModelLoader.Load(path, be, new WeightOptions { KeepGgmlBlocks = true });
        var model = loaded.Model;
        var gen = new Generator(model)
        {
            CacheType = kvCache switch
            {
                "auto" => null,
                "f32" => DType.F32,
                "f16" => DType.F16,
                "q8_0" => KvCacheType.Q8_0,
                _ => throw new ArgumentException($"--kv-cache: expected auto, f32, f16 or q8_0; got '{kvCache}'"),
            },
        };
        using var noGrad = GradMode.NoGrad();

        using (var warm = gen.NewCache(GgufDecodeChild.WarmupPrompt + GgufDecodeChild.WarmupSteps))
        {
            var l = gen.Step(warm, prompt[..GgufDecodeChild.WarmupPrompt]);
            for (int i = 0; i < GgufDecodeChild.WarmupSteps; i++) l = gen.Step(warm, [GgufDecodeChild.Argmax(l)]);
        }

        using var cache = gen.NewCache(prompt.Length + tokens); // auto: engine generate's cache, f16 for a GGUF model as llama.cpp's default
        var sw = Stopwatch.StartNew();
        var logits = gen.Step(cache, prompt);
        double promptSeconds = sw.Elapsed.TotalSeconds;
        var promptLogits = logits;
        var generated = new int[tokens];
        sw.Restart();
        for (int i = 0; i < tokens; i++)
        {
            generated[i] = GgufDecodeChild.Argmax(logits);
            logits = gen.Step(cache, [generated[i]]);
        }
        double decodeSeconds = sw.Elapsed.TotalSeconds;
        return (new GgufDecodeResult(floatProducts ? "reference" : "engine", threads, prompt.Length, promptSeconds, tokens, decodeSeconds, 0, generated,
            $"KeepGgmlBlocks{(floatProducts ? ", fp32 products" : "")}, {cache.Type.Name} KV cache ({cache.ByteSize / 1e6:F1} MB), CpuParallel.Threads {threads}, huge pages {GgufDecodeChild.AnonHugePagesKb() / 1024} MiB", cache.Type.Name), promptLogits);
    }
}
