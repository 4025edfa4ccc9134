using Engine.Formats;
using Engine.Checkpoints;
using Engine.Diagnostics;
using Engine.Models;
using Engine.Tensors;
using Engine.Tokenizers;

namespace Engine.Bench;

/// <summary>Writes a benchmark GGUF of a named shape (<see cref="BenchShapes"/>) with random weights: matrices
/// normal(0, 0.02), norms 1, stored by <see cref="GgufExporter"/>'s streaming overload one tensor at a time (each
/// tensor's fp32 values exist only while it is written), so a 7B-shape file is made in about one embedding's worth of
/// memory (32000×4096 fp32 = 0.5 GB) instead of the 27 GB a dense fp32 model would take. Every shape goes through this
/// path, stories15M included, so the 7B path is the one that is exercised. The type is a llama-quantize file type name
/// (<see cref="GgufQuantType"/>): q4_k_m follows llama-quantize's mixture and row-length fallbacks as the exporter
/// does. Values come from one seeded stream per 1M-value chunk, filled in parallel.</summary>
internal static class GgufBenchFile
{
    private const int Chunk = 1 << 20;

    /// <summary>The shape's config with a context of at least <paramref name="minContext"/> tokens (stories15M's 256 is
    /// too short for a 512-token prompt; llama.cpp and engine both take the file's context_length).</summary>
    public static LlamaConfig Config(string shape, int minContext)
    {
        var c = BenchShapes.Get(shape);
        return c.MaxPositionEmbeddings >= minContext ? c : c with { MaxPositionEmbeddings = minContext };
    }

    /// <summary>Writes the file and returns the exporter's report (stored type per tensor, fallback notes).</summary>
    public static GgufExportReport Write(LlamaConfig c, ITokenizer tokenizer, GgufQuantType type, string path, ulong seed = 1234)
    {
        var shapes = LlamaWeights.Expected(c).ToDictionary(x => x.Name, x => x.Shape);
        return GgufExporter.Export(c, c.TieWordEmbeddings, tokenizer, type, path,
            hf => shapes.TryGetValue(hf, out var s) ? s : null,
            (hf, values) => Fill(hf, values, seed), name: Path.GetFileNameWithoutExtension(path));
    }

    /// <summary>A report of a file written earlier (gguf-decode --keep): each tensor's stored type, no notes.</summary>
    public static GgufExportReport Describe(string path)
    {
        using var f = GgufFile.Open(path);
        var tensors = f.Tensors.Select(t => new GgufExportedTensor(t.Name, t.Type, t.Dims.Select(d => (int)d).ToArray(), t.Name)).ToList();
        return new GgufExportReport(path, tensors.GroupBy(t => t.Type).OrderByDescending(g => g.Count()).First().Key, tensors, []);
    }

    /// <summary>The llama2 SentencePiece tokenizer (vocabulary 32000, the shapes' vocabulary) from shared/data.</summary>
    public static ITokenizer Llama2Tokenizer()
    {
        var env = Environment.GetEnvironmentVariable("ENGINE_SHARED_DATA");
        var roots = new List<string>();
        if (!string.IsNullOrEmpty(env)) roots.Add(env);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            roots.Add(Path.Combine(dir.FullName, "shared", "data"));
        foreach (var root in roots)
        {
            var path = Path.Combine(root, "llama2-tokenizer", "tokenizer.model");
            if (File.Exists(path)) return SentencePieceTokenizer.Load(path);
        }
        throw new EngineException($"gguf-decode needs shared/data/llama2-tokenizer/tokenizer.model (searched above {AppContext.BaseDirectory}; set ENGINE_SHARED_DATA)");
    }

    private static void Fill(string name, float[] values, ulong seed)
    {
        if (LlamaWeights.IsNorm(name) || LlamaWeights.IsBias(name))
        {
            values.AsSpan().Fill(LlamaWeights.IsNorm(name) ? 1f : 0f); // as LlamaWeights.Random: norms 1, biases 0
            return;
        }
        // The previous tensor's arrays are garbage by now; collecting before a large one keeps the maker at about one
        // tensor (a 7B embedding is 0.5 GB of fp32) instead of leaving two to the large-object heap's budget.
        if (values.LongLength >= 1L << 24) GC.Collect();
        ulong nameSeed = seed;
        foreach (char ch in name) nameSeed = (nameSeed ^ ch) * 1099511628211UL; // FNV-1a: one stream per tensor name
        int chunks = (int)((values.LongLength + Chunk - 1) / Chunk);
        Parallel.For(0, chunks, i =>
        {
            int start = i * Chunk, n = (int)Math.Min(Chunk, values.LongLength - start);
            new Rng(nameSeed + (ulong)i).FillNormal(values.AsSpan(start, n), 0, 0.02);
        });
    }
}
