using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Models;
using Engine.Quant;
using Engine.Tensors;
using Engine.Tests.Integration;
using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Export;

/// <summary>What the GGUF exporter writes, read back with engine's own GgufFile and model loader.</summary>
public class GgufExportTests : IClassFixture<StoriesExports>
{
    private readonly StoriesExports _exports;

    public GgufExportTests(StoriesExports exports) => _exports = exports;

    public static TheoryData<string> AllTypes => new(Enum.GetValues<GgmlType>().Select(t => t.Name()));

    private static GgmlType Parse(string name) => GgmlTypes.TryParse(name, out var t) ? t : throw new ArgumentException(name);

    [Theory]
    [InlineData("f32", 0u)]
    [InlineData("f16", 1u)]
    [InlineData("q4_0", 2u)]
    [InlineData("q4_1", 3u)]
    [InlineData("q8_0", 7u)]
    [InlineData("q5_0", 8u)]
    [InlineData("q5_1", 9u)]
    [InlineData("bf16", 32u)]
    public void File_type_is_llama_ftype(string type, uint expected) => Assert.Equal(expected, GgufTensorPolicy.FileType(Parse(type)));

    [Fact]
    public void Policy_keeps_norms_f32_gives_the_output_q6_k_or_q8_0_under_4_and_5_bits_and_falls_back_to_f16_for_odd_rows()
    {
        Assert.Equal(GgmlType.F32, GgufTensorPolicy.Choose("blk.0.attn_norm.weight", new[] { 64 }, GgmlType.Q4_0, true, out _));
        Assert.Equal(GgmlType.F32, GgufTensorPolicy.Choose("output_norm.weight", new[] { 64 }, GgmlType.F16, true, out _));
        Assert.Equal(GgmlType.Q4_0, GgufTensorPolicy.Choose("blk.3.attn_q.weight", new[] { 64, 64 }, GgmlType.Q4_0, true, out _));
        // llama-quantize's output rule for the legacy types: q6_K, or q8_0 when the rows are not a multiple of 256.
        var config = new LlamaConfig { NumLayers = 2, NumHeads = 4, NumKvHeads = 2 };
        GgufQuantMixture Mix(GgmlType t) => new(GgufQuantType.Of(t), config);
        Assert.Equal(GgmlType.Q8_0, GgufTensorPolicy.Choose("output.weight", new[] { 512, 64 }, GgmlType.Q5_1, false, out _, Mix(GgmlType.Q5_1)));
        Assert.Equal(GgmlType.Q6_K, GgufTensorPolicy.Choose("output.weight", new[] { 512, 256 }, GgmlType.Q5_1, false, out _, Mix(GgmlType.Q5_1)));
        Assert.Equal(GgmlType.Q8_0, GgufTensorPolicy.Choose("token_embd.weight", new[] { 512, 64 }, GgmlType.Q4_1, true, out _, Mix(GgmlType.Q4_1)));
        Assert.Equal(GgmlType.Q4_1, GgufTensorPolicy.Choose("token_embd.weight", new[] { 512, 64 }, GgmlType.Q4_1, false, out _, Mix(GgmlType.Q4_1)));
        Assert.Equal(GgmlType.Q8_0, GgufTensorPolicy.Choose("output.weight", new[] { 512, 256 }, GgmlType.Q8_0, false, out _, Mix(GgmlType.Q8_0)));
        Assert.Equal(GgmlType.BF16, GgufTensorPolicy.Choose("output.weight", new[] { 512, 64 }, GgmlType.BF16, false, out _));
        Assert.Equal(GgmlType.F16, GgufTensorPolicy.Choose("blk.0.ffn_down.weight", new[] { 64, 172 }, GgmlType.Q8_0, true, out var note));
        Assert.Contains("172", note);
        Assert.Equal(GgmlType.BF16, GgufTensorPolicy.Choose("blk.0.ffn_down.weight", new[] { 64, 172 }, GgmlType.BF16, true, out note));
        Assert.Null(note);
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Metadata_and_tensor_table_read_back(string typeName)
    {
        var type = Parse(typeName);
        using var m = StoriesExports.LoadSource();
        var tok = m.RequireTokenizer();
        using var g = GgufFile.Open(_exports.File(type));
        Assert.Equal(3u, g.Version);
        Assert.Equal("llama", g.GetString("general.architecture"));
        Assert.Equal("stories260K", g.GetString("general.name"));
        Assert.Equal(GgufTensorPolicy.FileType(type), g.GetU32("general.file_type"));
        Assert.Equal(type.IsQuantized(), g.ContainsKey("general.quantization_version"));
        if (type.IsQuantized()) Assert.Equal(2u, g.GetU32("general.quantization_version"));
        Assert.Equal(512u, g.GetU32("llama.vocab_size"));
        Assert.Equal(512u, g.GetU32("llama.context_length"));
        Assert.Equal(64u, g.GetU32("llama.embedding_length"));
        Assert.Equal(5u, g.GetU32("llama.block_count"));
        Assert.Equal(172u, g.GetU32("llama.feed_forward_length"));
        Assert.Equal(8u, g.GetU32("llama.rope.dimension_count"));
        Assert.Equal(10000f, g.GetF32("llama.rope.freq_base"));
        Assert.Equal(8u, g.GetU32("llama.attention.head_count"));
        Assert.Equal(4u, g.GetU32("llama.attention.head_count_kv"));
        Assert.Equal(1e-5f, g.GetF32("llama.attention.layer_norm_rms_epsilon"));
        Assert.False(g.ContainsKey("llama.attention.key_length")); // 64 / 8 heads is llama.cpp's default head size

        Assert.Equal("llama", g.GetString("tokenizer.ggml.model"));
        var tokens = g.GetArray<string>("tokenizer.ggml.tokens");
        var scores = g.GetArray<float>("tokenizer.ggml.scores");
        var types = g.GetArray<int>("tokenizer.ggml.token_type");
        Assert.Equal(512, tokens.Length);
        for (int i = 0; i < 512; i++)
        {
            Assert.Equal(tok.IdToPiece(i), tokens[i]);
            Assert.Equal(tok.Score(i), scores[i]);
        }
        // tok512: 0 <unk>, 1 <s>, 2 </s>, 3..258 byte pieces <0x00>..<0xFF>, then merges from "▁t".
        Assert.Equal(new[] { 2, 3, 3, 6 }, types[..4]);
        Assert.Equal("<0xFF>", tokens[258]);
        Assert.Equal(6, types[258]);
        Assert.Equal("▁t", tokens[259]);
        Assert.All(types[259..], t => Assert.Equal(1, t));
        Assert.Equal(1u, g.GetU32("tokenizer.ggml.bos_token_id"));
        Assert.Equal(2u, g.GetU32("tokenizer.ggml.eos_token_id"));
        Assert.Equal(0u, g.GetU32("tokenizer.ggml.unknown_token_id"));
        Assert.False(g.ContainsKey("tokenizer.ggml.padding_token_id"));
        Assert.True(g.GetBool("tokenizer.ggml.add_bos_token"));
        Assert.False(g.GetBool("tokenizer.ggml.add_eos_token"));
        Assert.True(g.GetBool("tokenizer.ggml.add_space_prefix"));

        // 1 embedding + 5 × 9 + final norm; the classifier is tied, so no output.weight.
        Assert.Equal(47, g.Tensors.Count);
        Assert.False(g.Contains("output.weight"));
        bool low = type is GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1;
        foreach (var t in g.Tensors)
        {
            GgmlType expected = t.Dims.Length == 1 ? GgmlType.F32
                : t.Name == "token_embd.weight" && low ? GgmlType.Q8_0
                : t.Name.EndsWith("ffn_down.weight") && type.IsQuantized() ? GgmlType.F16 // rows of 172
                : type.IsKQuant() ? GgufTensorPolicy.KQuantFallback(type) // rows of 64, not a multiple of 256
                : type;
            Assert.True(expected == t.Type, $"{t.Name}: {t.Type.Name()}, expected {expected.Name()}");
        }
        Assert.Equal(new long[] { 64, 512 }, g.TensorInfo("token_embd.weight").Dims);
        Assert.Equal(new long[] { 172, 64 }, g.TensorInfo("blk.4.ffn_down.weight").Dims);
        Assert.Equal(new long[] { 64, 32 }, g.TensorInfo("blk.0.attn_k.weight").Dims);
        Assert.Equal(type.IsKQuant() ? 1 + 5 * 7 : type.IsQuantized() ? 5 : 0, _exports.Report(type).Notes.Count);
    }

    [Fact]
    public void F32_export_loads_back_into_engine_with_bit_identical_weights_and_tokenizer()
    {
        using var source = StoriesExports.LoadSource();
        using var back = ModelLoader.Load(_exports.File(GgmlType.F32), CpuBackend.Instance, new WeightOptions());
        Assert.Equal(source.Model.Config with { }, back.Model.Config);
        foreach (var (name, t) in source.Model.Parameters.All)
        {
            var a = new float[t.NumElements];
            var b = new float[t.NumElements];
            CpuBackend.Instance.ToFloats(t, a);
            CpuBackend.Instance.ToFloats(back.Model.Parameters[name], b);
            Assert.True(a.AsSpan().SequenceEqual(b), $"{name} differs after the GGUF round trip");
        }
        // The extra spaces check that the exported remove_extra_whitespaces flag is read back.
        var text = string.Join("\n", StoriesExports.Stories()) + "  two  spaces   and three ";
        Assert.Equal(source.RequireTokenizer().Encode(text), back.RequireTokenizer().Encode(text));
    }

    [Fact]
    public void Re_exporting_llama_cpps_own_f16_file_reproduces_its_tensors_byte_for_byte()
    {
        // llama-2-tiny-random.gguf came out of llama.cpp's converter: engine reads it (q/k rows to half-split order,
        // f16 widened to fp32) and writes it back; every tensor must come out exactly as the converter wrote it.
        var original = SharedData.Require("gguf/llama-2-tiny-random.gguf");
        using var m = ModelLoader.Load(original, CpuBackend.Instance, new WeightOptions());
        using var tmp = new TempDir();
        var report = GgufExporter.Export(m.Model, m.RequireTokenizer(), GgmlType.F16, tmp.File("again.gguf"));
        Assert.Empty(report.Notes);
        using var a = GgufFile.Open(original);
        using var b = GgufFile.Open(tmp.File("again.gguf"));
        Assert.Equal(a.Tensors.Select(t => t.Name).Order(), b.Tensors.Select(t => t.Name).Order());
        foreach (var t in a.Tensors)
        {
            var u = b.TensorInfo(t.Name);
            Assert.Equal(t.Type, u.Type);
            Assert.Equal(t.Dims, u.Dims);
            Assert.True(a.ReadBytes(t.Name).SequenceEqual(b.ReadBytes(t.Name)), $"{t.Name} bytes differ");
        }
        foreach (var key in new[] { "general.architecture", "general.file_type", "llama.context_length", "llama.embedding_length",
                     "llama.block_count", "llama.feed_forward_length", "llama.rope.dimension_count", "llama.attention.head_count",
                     "llama.attention.head_count_kv", "llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.model",
                     "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id" })
            Assert.True(a.Get(key).Value.Equals(b.Get(key).Value), $"{key}: {a.Get(key)} vs {b.Get(key)}");
        Assert.Equal(a.GetArray<string>("tokenizer.ggml.tokens"), b.GetArray<string>("tokenizer.ggml.tokens"));
        Assert.Equal(a.GetArray<float>("tokenizer.ggml.scores"), b.GetArray<float>("tokenizer.ggml.scores"));
        Assert.Equal(a.GetArray<int>("tokenizer.ggml.token_type"), b.GetArray<int>("tokenizer.ggml.token_type"));
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    [InlineData("q5_1")]
    public void Quantized_tensor_bytes_equal_ggml_blocks_of_the_source_weights(string typeName)
    {
        var type = Parse(typeName);
        using var m = StoriesExports.LoadSource();
        using var g = GgufFile.Open(_exports.File(type));
        var c = m.Model.Config;
        foreach (var (hf, gguf) in GgufNames.Map(c))
        {
            if (!m.Model.Parameters.TryGet(hf, out var t)) continue;
            var info = g.TensorInfo(gguf);
            var w = new float[t.NumElements];
            CpuBackend.Instance.ToFloats(t, w);
            if (hf.EndsWith("q_proj.weight")) Engine.Checkpoints.RopeLayout.HalfToInterleaved<float>(w, t.Shape[0], t.Shape[1], c.NumHeads);
            if (hf.EndsWith("k_proj.weight")) Engine.Checkpoints.RopeLayout.HalfToInterleaved<float>(w, t.Shape[0], t.Shape[1], c.NumKvHeads);
            var expected = new byte[info.Type.RowSize(w.Length)];
            GgmlBlocks.Quantize(info.Type, w, expected);
            Assert.True(expected.AsSpan().SequenceEqual(g.ReadBytes(gguf)), $"{gguf} ({info.Type.Name()}) bytes differ");
        }
    }

    [Fact]
    public void Untied_model_writes_output_weight_and_a_head_size_that_is_not_hidden_over_heads()
    {
        // head_dim 16 with 4 heads and hidden 32: llama.cpp needs attention.key_length to know the head size.
        var c = new LlamaConfig
        {
            HiddenSize = 32, IntermediateSize = 64, NumLayers = 1, NumHeads = 4, NumKvHeads = 2, HeadDim = 16,
            VocabSize = 512, MaxPositionEmbeddings = 64, RmsNormEps = 1e-6f, RopeTheta = 500000f,
        }.Validate("test");
        using var model = new LlamaModel(c, CpuBackend.Instance, LlamaWeights.Random(c, CpuBackend.Instance, 3, new WeightOptions()));
        var tok = SentencePieceTokenizer.Load(SharedData.Require("stories260K/tok512.model"));
        using var tmp = new TempDir();
        var report = GgufExporter.Export(model, tok, GgmlType.Q4_0, tmp.File("u.gguf"));
        Assert.Empty(report.Notes);
        using var g = GgufFile.Open(tmp.File("u.gguf"));
        Assert.Equal("u", g.GetString("general.name"));
        Assert.Equal(16u, g.GetU32("llama.attention.key_length"));
        Assert.Equal(16u, g.GetU32("llama.attention.value_length"));
        Assert.Equal(500000f, g.GetF32("llama.rope.freq_base"));
        Assert.Equal(GgmlType.Q4_0, g.TensorInfo("token_embd.weight").Type);
        Assert.Equal(GgmlType.Q8_0, g.TensorInfo("output.weight").Type);
        Assert.Equal(new long[] { 32, 64 }, g.TensorInfo("blk.0.attn_q.weight").Dims); // [q dim 64, hidden 32] reversed
        Assert.Equal(new long[] { 32, 512 }, g.TensorInfo("output.weight").Dims);

        using var back = ModelLoader.Load(tmp.File("u.gguf"), CpuBackend.Instance, new WeightOptions());
        Assert.Equal(c with { BosTokenId = 1, EosTokenId = 2 }, back.Model.Config);
        Assert.False(back.Model.TiedEmbeddings);
    }

    [Fact]
    public void Tokenizer_of_another_size_is_refused()
    {
        using var m = StoriesExports.LoadSource();
        var big = SentencePieceTokenizer.Load(SharedData.Require("llama2-tokenizer/tokenizer.model"));
        using var tmp = new TempDir();
        var e = Assert.Throws<EngineException>(() => GgufExporter.Export(m.Model, big, GgmlType.F16, tmp.File("x.gguf")));
        Assert.Contains("32000", e.Message);
        Assert.Contains("512", e.Message);
        Assert.False(File.Exists(tmp.File("x.gguf")));
    }

    [Fact]
    public void Cli_export_merges_a_lora_adapter_into_the_written_weights()
    {
        using var tmp = new TempDir();
        var adapterDir = tmp.File("adapter");
        int[] seq = { 1, 403, 407, 261, 378, 432 };
        float[] adapted;
        using (var m = StoriesExports.LoadSource())
        {
            using var lora = LoraAdapter.Inject(m.Model, new LoraOptions { R = 4, Alpha = 8, Targets = LoraOptions.ParseTargets("q,k,down") });
            var rng = new Rng(5);
            foreach (var (_, t) in lora.Parameters.All)
            {
                var v = new float[t.NumElements];
                rng.FillNormal(v, 0, 0.3);
                v.CopyTo(t.F32());
            }
            PeftAdapterIO.Save(lora, adapterDir, "stories260K");
            adapted = Stories260KTests.FullLogits(m.Model, seq);
        }
        var outPath = tmp.File("merged.gguf");
        var (exit, output, err) = CliHarness.Run("export", "gguf", "--model", StoriesExports.Source, "--adapter", adapterDir, "--type", "f32", "--out", outPath);
        Assert.True(exit == 0, err);
        Assert.StartsWith($"wrote {outPath}: 47 tensors (47 f32)", output);

        using var merged = ModelLoader.Load(outPath, CpuBackend.Instance, new WeightOptions());
        var got = Stories260KTests.FullLogits(merged.Model, seq);
        using var plain = StoriesExports.LoadSource();
        var unadapted = Stories260KTests.FullLogits(plain.Model, seq);
        double moved = 0;
        for (int i = 0; i < got.Length; i++)
        {
            Assert.True(Math.Abs(got[i] - adapted[i]) <= 1e-4 * (1 + Math.Abs(adapted[i])), $"logit {i}: {got[i]} vs {adapted[i]}");
            moved = Math.Max(moved, Math.Abs(adapted[i] - unadapted[i]));
        }
        Assert.True(moved > 0.1, $"the adapter barely changes the logits ({moved}), so the test proves nothing");
    }

    [Fact]
    public void Cli_rejects_an_unknown_type_in_one_line()
    {
        using var tmp = new TempDir();
        var (exit, _, err) = CliHarness.Run("export", "gguf", "--model", StoriesExports.Source, "--type", "q3_k", "--out", tmp.File("x.gguf"));
        Assert.Equal(1, exit);
        var line = Assert.Single(err.Trim().Split('\n'));
        // llama-quantize's Q3_K is an alias of Q3_K_M, while engine's q4_k and q5_k are pure exports: q3_k is refused
        // rather than guessed.
        Assert.Equal("error: --type q3_k: unknown type; choose one of f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k_s|q3_k_m|q3_k_l|q4_k_s|q4_k_m|q5_k_s|q5_k_m|q6_k|q4_k|q5_k", line);
    }

    [Fact]
    public void Cli_json_lists_every_tensor_and_the_fallback_notes()
    {
        using var tmp = new TempDir();
        var (exit, output, err) = CliHarness.Run("export", "gguf", "--model", StoriesExports.Source, "--type", "q4_1", "--out", tmp.File("s.gguf"), "--json");
        Assert.True(exit == 0, err);
        var r = System.Text.Json.JsonDocument.Parse(output).RootElement;
        Assert.Equal("q4_1", r.GetProperty("type").GetString());
        Assert.Equal(new FileInfo(tmp.File("s.gguf")).Length, r.GetProperty("bytes").GetInt64());
        Assert.Equal(47, r.GetProperty("tensors").GetArrayLength());
        Assert.Equal(5, r.GetProperty("notes").GetArrayLength());
    }

    /// <summary>--pure reaches the exporter: stories260K's rows (64 wide) fit no k-quant, so the mixture gives its tied
    /// output llama-quantize's q8_0 while --pure asks for q4_K there and falls back to q5_0 like every other 64-wide
    /// weight; both files say LLAMA_FTYPE_MOSTLY_Q4_K_M (15).</summary>
    [Fact]
    public void Cli_pure_flag_turns_the_mixture_off()
    {
        using var tmp = new TempDir();
        string Embedding(params string[] extra)
        {
            var file = tmp.File($"s{extra.Length}.gguf");
            var (exit, output, err) = CliHarness.Run(["export", "gguf", "--model", StoriesExports.Source, "--type", "q4_k_m", "--out", file, "--json", .. extra]);
            Assert.True(exit == 0, err);
            var r = System.Text.Json.JsonDocument.Parse(output).RootElement;
            Assert.Equal("q4_k_m", r.GetProperty("type").GetString());
            using var g = GgufFile.Open(file);
            Assert.Equal(15u, g.GetU32("general.file_type"));
            return g.TensorInfo("token_embd.weight").Type.Name();
        }
        Assert.Equal("q8_0", Embedding());
        Assert.Equal("q5_0", Embedding("--pure"));
    }
}
