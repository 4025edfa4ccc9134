using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Models;
using Engine.Quant;
using Engine.Tests.Integration;
using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Export;

/// <summary>llama.cpp's own quantizer as the judge of exported bytes: quantizing engine's f32 export with
/// llama_model_quantize must give, tensor for tensor, the bytes engine's exporter writes directly. The model is random
/// with every row a multiple of 32 (stories260K's 172-wide ffn_down rows make this llama.cpp build refuse q4_0 with
/// "no tensor type fallback is defined"), untied, and with a head size that is not hidden / heads.</summary>
public class LlamaQuantizeJudgeTests
{
    private readonly ITestOutputHelper _log;

    public LlamaQuantizeJudgeTests(ITestOutputHelper log) => _log = log;

    internal static LlamaModel RandomModel(out LlamaConfig c, int hidden = 64, int intermediate = 96, int headDim = 32, double embeddingStd = 1.0,
        int layers = 2, int heads = 4, int kvHeads = 2, bool tied = false)
    {
        c = new LlamaConfig
        {
            HiddenSize = hidden, IntermediateSize = intermediate, NumLayers = layers, NumHeads = heads, NumKvHeads = kvHeads, HeadDim = headDim,
            VocabSize = 512, MaxPositionEmbeddings = 128, RmsNormEps = 1e-5f, RopeTheta = 10000f, TieWordEmbeddings = tied,
        }.Validate("test");
        var be = CpuBackend.Instance;
        return new LlamaModel(c, be, LlamaWeights.Random(c, be, 11, new WeightOptions(), std: 0.05, embeddingStd: embeddingStd));
    }

    internal static SentencePieceTokenizer Tok512() => SentencePieceTokenizer.Load(SharedData.Require("stories260K/tok512.model"));

    [Theory]
    [InlineData("f16")]
    [InlineData("bf16")]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    [InlineData("q4_1")]
    [InlineData("q5_0")]
    [InlineData("q5_1")]
    public void Exported_bytes_equal_llama_quantize_of_the_f32_export(string typeName)
    {
        // The model's 64-wide rows are not a multiple of 256, so llama-quantize itself gives output.weight q8_0 under
        // the 4/5-bit types, as engine does (GgufQuantMixture.Pick); no output type is forced on llama.cpp.
        using var model = RandomModel(out _);
        ExportAndJudge(typeName, model, pure: false);
    }

    /// <summary>The k-quants as llama-quantize --pure writes them, on a model whose every 2-D weight row is a multiple of
    /// 256 (hidden 256, intermediate 512, head size 64), output.weight included.</summary>
    [Theory]
    [InlineData("q6_k")]
    [InlineData("q5_k")]
    [InlineData("q4_k")]
    [InlineData("q3_k")]
    [InlineData("q2_k")]
    public void K_quant_bytes_equal_llama_quantize_pure_of_the_f32_export(string typeName)
    {
        using var model = RandomModel(out _, hidden: 256, intermediate: 512, headDim: 64);
        ExportAndJudge(typeName, model, pure: true);
    }

    /// <summary>Exports <paramref name="model"/> as f32 and as <paramref name="typeName"/> (no fallback allowed), has
    /// llama_model_quantize make the type from the f32 file, and compares every tensor's type and bytes.</summary>
    private void ExportAndJudge(string typeName, LlamaModel model, bool pure)
    {
        Assert.True(GgmlTypes.TryParse(typeName, out var type));
        var tok = Tok512();
        using var tmp = new TempDir();
        GgufExporter.Export(model, tok, GgmlType.F32, tmp.File("f32.gguf"));
        var direct = GgufExporter.Export(model, tok, type, tmp.File("direct.gguf"));
        Assert.Empty(direct.Notes);
        LlamaCpp.Quantize(tmp.File("f32.gguf"), tmp.File("judge.gguf"), GgufTensorPolicy.FileType(type), pure);
        AssertSameTensors(tmp.File("direct.gguf"), tmp.File("judge.gguf"), typeName);
    }

    /// <summary>The k-quants' edge cases, judged by llama_model_quantize --pure: one weight (blk.0.ffn_up, no RoPE
    /// permutation) of the f32 export is rewritten in place with an all-zero super-block, all-zero and near-zero
    /// (1e-20, below ggml's GROUP_MAX_EPS) 16-value groups, groups of one sign only, ties and lone outliers, a group
    /// that is zero but for one value, and values just off the rounding midpoints; engine loads that file, exports it,
    /// and every tensor must equal llama.cpp's quantization of the same file.</summary>
    [Theory]
    [InlineData("q6_k")]
    [InlineData("q5_k")]
    [InlineData("q4_k")]
    [InlineData("q3_k")]
    [InlineData("q2_k")]
    public void K_quant_bytes_on_zero_tiny_and_outlier_groups_equal_llama_quantize_pure(string typeName)
    {
        Assert.True(GgmlTypes.TryParse(typeName, out var type));
        var tok = Tok512();
        using var tmp = new TempDir();
        using (var model = RandomModel(out _, hidden: 256, intermediate: 512, headDim: 64))
            GgufExporter.Export(model, tok, GgmlType.F32, tmp.File("f32.gguf"));
        long at;
        int count;
        using (var f32 = GgufFile.Open(tmp.File("f32.gguf")))
        {
            var info = f32.TensorInfo("blk.0.ffn_up.weight");
            at = f32.DataOffset + (long)info.Offset;
            count = (int)info.NumElements;
        }
        var v = new float[count];
        using (var fs = File.Open(tmp.File("f32.gguf"), FileMode.Open, FileAccess.ReadWrite))
        {
            var bytes = new byte[count * 4];
            fs.Position = at;
            fs.ReadExactly(bytes);
            Buffer.BlockCopy(bytes, 0, v, 0, bytes.Length);
            v.AsSpan(0, 256).Clear(); // a whole zero super-block
            v.AsSpan(256, 16).Clear(); // zero groups of 16 and 32
            v.AsSpan(288, 32).Clear();
            for (int i = 320; i < 352; i++) v[i] *= 1e-20f; // below GROUP_MAX_EPS
            for (int i = 352; i < 384; i++) v[i] = MathF.Abs(v[i]); // positive only
            for (int i = 384; i < 416; i++) v[i] = -MathF.Abs(v[i]) - 0.01f; // negative only, min away from 0
            for (int i = 416; i < 448; i++) v[i] = 0.125f * ((i % 5) - 2); // ties on a coarse grid
            v[460] = 40f; // lone outliers
            v[470] = -35f;
            v.AsSpan(480, 32).Clear();
            v[481] = 0.3f; // zero but for one value
            for (int i = 512; i < 768; i++) v[i] = (i % 16 - 8) * (1f / 7f) + 1e-7f; // just off midpoints
            for (int i = 768; i < 1024; i++) v[i] = 1e-8f * (i % 7 - 3); // a tiny super-block
            Buffer.BlockCopy(v, 0, bytes, 0, bytes.Length);
            fs.Position = at;
            fs.Write(bytes);
        }
        using (var check = GgufFile.Open(tmp.File("f32.gguf")))
        {
            var back = new float[count];
            check.ReadFloats("blk.0.ffn_up.weight", back);
            Assert.Equal(v, back); // the edit landed in that tensor
        }
        using (var edited = ModelLoader.Load(tmp.File("f32.gguf"), CpuBackend.Instance, new WeightOptions()))
        {
            var direct = GgufExporter.Export(edited.Model, edited.RequireTokenizer(), type, tmp.File("direct.gguf"));
            Assert.Empty(direct.Notes);
        }
        LlamaCpp.Quantize(tmp.File("f32.gguf"), tmp.File("judge.gguf"), GgufTensorPolicy.FileType(type), pure: true);
        AssertSameTensors(tmp.File("direct.gguf"), tmp.File("judge.gguf"), typeName);
    }

    /// <summary>llama.cpp loads and runs engine's k-quant exports, and engine reads them back (dequantizing every
    /// block) to the same logits, up to llama.cpp's own rounding of activations to 8 bits (q8_K) in its quantized dot
    /// products: on this model that costs 4e-2 already for a q8_0 export (measured: 7e-2 for q4_K/q5_K/q6_K, 7e-2 and
    /// 8e-2 for q3_K/q2_K, while the quantization itself moves the logits by 0.19 (q6_K) to 0.72 (q4_K), 1.7 (q3_K)
    /// and 2.6 (q2_K) from the f32 source); a misread block would be off by the logits' own scale.</summary>
    [Theory]
    [InlineData("q6_k", 1.0)]
    [InlineData("q5_k", 1.0)]
    [InlineData("q4_k", 1.0)]
    [InlineData("q3_k", 3.0)]
    [InlineData("q2_k", 4.0)]
    public void Llama_cpp_runs_the_k_quant_export_as_engine_reads_it_back(string typeName, double maxDrift)
    {
        Assert.True(GgmlTypes.TryParse(typeName, out var type));
        using var model = RandomModel(out _, hidden: 256, intermediate: 512, headDim: 64, embeddingStd: 0.05);
        using var tmp = new TempDir();
        GgufExporter.Export(model, Tok512(), type, tmp.File("m.gguf"));
        int[] ids = { 1, 403, 407, 261, 378, 432, 300, 17, 511, 2, 259, 400 };
        using var back = ModelLoader.Load(tmp.File("m.gguf"), CpuBackend.Instance, new WeightOptions());
        var engine = Stories260KTests.FullLogits(back.Model, ids);
        var source = Stories260KTests.FullLogits(model, ids);
        using var cpp = LlamaCpp.Open(tmp.File("m.gguf"), context: 128);
        var judged = cpp.Logits(ids);
        double worst = 0, drift = 0;
        for (int i = 0; i < engine.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(engine[i] - judged[i]) / Math.Max(1, Math.Abs(engine[i])));
            drift = Math.Max(drift, Math.Abs(engine[i] - source[i]) / Math.Max(1, Math.Abs(source[i])));
        }
        _log.WriteLine($"{typeName}: worst relative logit difference engine vs llama.cpp on the export {worst:E2}; export vs f32 source {drift:E2}");
        Assert.True(worst <= 0.15, $"{typeName}: engine vs llama.cpp {worst:E2}");
        Assert.True(drift > 0 && drift <= maxDrift, $"{typeName}: export vs source {drift:E2}");
    }

    /// <summary>Quantization throughput, f32 GB/s in, of engine's quantizers against llama_model_quantize on the
    /// same f32 GGUF in this process (a 4-layer, 1024-wide model, 210 MB of f32). engine's time is the quantizers alone
    /// on weights already in memory; llama.cpp's includes reading the f32 file and writing its output. Runs only with
    /// ENGINE_QUANT_BENCH=1 (it takes a minute).</summary>
    [Theory]
    [InlineData("q6_k")]
    [InlineData("q5_k")]
    [InlineData("q4_k")]
    [InlineData("q3_k")]
    [InlineData("q2_k")]
    [InlineData("q8_0")]
    public void Quantization_throughput_against_llama_model_quantize(string typeName)
    {
        if (Environment.GetEnvironmentVariable("ENGINE_QUANT_BENCH") != "1") Assert.Skip("set ENGINE_QUANT_BENCH=1 to measure");
        Assert.True(GgmlTypes.TryParse(typeName, out var type));
        var c = new LlamaConfig
        {
            HiddenSize = 1024, IntermediateSize = 2816, NumLayers = 4, NumHeads = 16, NumKvHeads = 16, HeadDim = 64,
            VocabSize = 512, MaxPositionEmbeddings = 128, RmsNormEps = 1e-5f, RopeTheta = 10000f,
        }.Validate("bench");
        var be = CpuBackend.Instance;
        using var tmp = new TempDir();
        using (var model = new LlamaModel(c, be, LlamaWeights.Random(c, be, 5, new WeightOptions(), std: 0.02, embeddingStd: 0.02)))
            GgufExporter.Export(model, Tok512(), GgmlType.F32, tmp.File("f32.gguf"));

        var weights = new List<float[]>();
        using (var f32 = GgufFile.Open(tmp.File("f32.gguf")))
        {
            foreach (var t in f32.Tensors.Where(t => t.Dims.Length == 2))
            {
                var v = new float[t.NumElements];
                f32.ReadFloats(t.Name, v);
                weights.Add(v);
            }
        }
        double gb = weights.Sum(w => (double)w.Length) * 4 / 1e9;
        double Engine(bool oneThread)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            foreach (var w in weights)
            {
                var dst = new byte[type.RowSize(w.Length)];
                // GgmlBlocks runs one call of at most 8192 blocks on the calling thread.
                int chunk = oneThread ? 4096 * type.BlockSize() : w.Length;
                for (int at = 0; at < w.Length; at += chunk)
                {
                    int n = Math.Min(chunk, w.Length - at);
                    GgmlBlocks.Quantize(type, w.AsSpan(at, n), dst.AsSpan((int)type.RowSize(at), (int)type.RowSize(n)));
                }
            }
            return gb / sw.Elapsed.TotalSeconds;
        }
        double Llama(int threads)
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            LlamaCpp.Quantize(tmp.File("f32.gguf"), tmp.File($"judge{threads}.gguf"), GgufTensorPolicy.FileType(type), pure: true, threads: threads);
            return gb / sw.Elapsed.TotalSeconds;
        }
        Engine(true); // warm up the JIT
        double e1 = Engine(true), l1 = Llama(1), eAll = Engine(false), l2 = Llama(2);
        _log.WriteLine($"{typeName}: {gb:F3} GB of f32 2-D weights; 1 thread: engine {e1:F3} GB/s, llama_model_quantize {l1:F3} GB/s ({e1 / l1:F2}x); " +
                       $"{Environment.ProcessorCount} cores: engine {eAll:F3} GB/s, llama_model_quantize (nthread 2) {l2:F3} GB/s ({eAll / l2:F2}x)");
    }

    private void AssertSameTensors(string direct, string judged, string typeName) => AssertSameTensors(direct, judged, typeName, _log);

    /// <summary>Same general.file_type, same tensors, and per tensor the same type, dims and bytes.</summary>
    internal static void AssertSameTensors(string direct, string judged, string typeName, ITestOutputHelper log)
    {
        using var mine = GgufFile.Open(direct);
        using var judge = GgufFile.Open(judged);
        Assert.Equal(judge.GetU32("general.file_type"), mine.GetU32("general.file_type"));
        Assert.Equal(judge.Tensors.Count, mine.Tensors.Count);
        foreach (var t in mine.Tensors)
        {
            var j = judge.TensorInfo(t.Name);
            Assert.True(j.Type == t.Type, $"{t.Name}: llama-quantize chose {j.Type.Name()}, engine {t.Type.Name()}");
            Assert.Equal(j.Dims, t.Dims);
            byte[] a = judge.ReadBytes(t.Name).ToArray(), b = mine.ReadBytes(t.Name).ToArray();
            int at = a.AsSpan().CommonPrefixLength(b);
            Assert.True(at == a.Length && a.Length == b.Length, $"{t.Name} ({t.Type.Name()}): bytes differ from llama-quantize's from byte {at} of {a.Length}");
        }
        log.WriteLine($"{typeName}: {mine.Tensors.Count} tensors byte-identical to llama_model_quantize ({string.Join(", ", mine.Tensors.GroupBy(t => t.Type).Select(g => $"{g.Count()} {g.Key.Name()}"))})");
    }

    [Fact]
    public void Llama_cpp_runs_the_untied_model_with_its_explicit_head_size_as_engine_does()
    {
        using var model = RandomModel(out var c);
        using var tmp = new TempDir();
        GgufExporter.Export(model, Tok512(), GgmlType.F32, tmp.File("m.gguf"));
        int[] ids = { 1, 403, 407, 261, 378, 432, 300, 17, 511, 2, 259, 400 };
        var engine = Stories260KTests.FullLogits(model, ids);
        using var cpp = LlamaCpp.Open(tmp.File("m.gguf"), context: 128);
        var judged = cpp.Logits(ids);
        double worst = 0;
        for (int i = 0; i < engine.Length; i++) worst = Math.Max(worst, Math.Abs(engine[i] - judged[i]) / Math.Max(1, Math.Abs(engine[i])));
        _log.WriteLine($"untied, head size {c.HeadDim} with hidden {c.HiddenSize} / {c.NumHeads} heads: worst relative logit difference {worst:E2}");
        Assert.True(worst <= 1e-4, $"worst relative logit difference {worst:E2}");
    }
}
