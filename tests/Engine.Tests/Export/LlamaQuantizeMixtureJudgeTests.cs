using Engine.Checkpoints;
using Engine.Formats;
using Engine.Quant;
using Engine.Tests.Support;

namespace Engine.Tests.Export;

/// <summary>llama-quantize's k-quant mixtures judged by llama.cpp itself: llama_model_quantize with the same file type
/// (not pure) on engine's f32 export must give, tensor for tensor, the type and the bytes engine's direct export
/// writes. The random models are shaped to exercise the rules: 8 layers (use_more_bits picks layers 0, 3, 6 and 7;
/// n_layer/8 = 1), hidden 256 and 4 heads; either 2 query heads per KV head, head size 64 and an untied output, or
/// 4 query heads per KV head (q2_k's attn_v rule), a tied output (token_embd takes the output's q6_K), head size 32
/// (attn_output rows of 128) and ffn_down rows of 288, so those k-quants fall back (q2_K/q3_K → q4_0, q4_K → q5_0,
/// q5_K → q5_1, q6_K → q8_0).</summary>
public class LlamaQuantizeMixtureJudgeTests
{
    private readonly ITestOutputHelper _log;

    public LlamaQuantizeMixtureJudgeTests(ITestOutputHelper log) => _log = log;

    public static TheoryData<string> Mixtures => new(GgufQuantType.Names.Where(n => GgufQuantType.TryParse(n, false, out var t) && t.BaseType.IsKQuant() && !t.Pure));

    [Theory]
    [MemberData(nameof(Mixtures))]
    public void Mixture_types_and_bytes_equal_llama_quantize_of_the_f32_export(string typeName) =>
        Judge(typeName, intermediate: 512, kvHeads: 2, headDim: 64);

    [Theory]
    [InlineData("q2_k")]
    [InlineData("q3_k_m")]
    [InlineData("q4_k_m")]
    [InlineData("q5_k_m")]
    public void Mixture_with_tied_output_4_heads_per_kv_head_and_rows_off_the_super_block_equals_llama_quantize(string typeName) =>
        Judge(typeName, intermediate: 288, kvHeads: 1, headDim: 32, tied: true);

    /// <summary>The legacy 4/5-bit types with rows of 256: llama-quantize gives output.weight (and a tied token
    /// embedding) Q6_K and every other 2-D weight the requested type.</summary>
    [Theory]
    [InlineData("q4_0", false)]
    [InlineData("q4_1", true)]
    [InlineData("q5_0", false)]
    [InlineData("q5_1", true)]
    public void Legacy_types_with_a_q6_k_output_equal_llama_quantize(string typeName, bool tied) =>
        Judge(typeName, intermediate: 512, kvHeads: 2, headDim: 64, tied: tied);

    /// <summary>--pure on a mixture name: every 2-D weight in the base type, the file type kept (llama-quantize --pure).</summary>
    [Fact]
    public void Pure_q4_k_m_equals_llama_quantize_pure() => Judge("q4_k_m", intermediate: 512, kvHeads: 2, headDim: 64, pure: true);

    /// <summary>The real stories260K (64-wide rows, 172-wide ffn_down rows, tied output): no k-quant fits, so every
    /// weight takes llama-quantize's fallback chain (q4_K → q5_0, q6_K → q8_0 → f16 for ffn_down, q8_0 for the output
    /// whose rows are not a multiple of 256), per tensor as llama_model_quantize picks it.</summary>
    [Theory]
    [MemberData(nameof(Mixtures))]
    public void Mixture_of_stories260K_equals_llama_quantize(string typeName)
    {
        Assert.True(GgufQuantType.TryParse(typeName, false, out var quant));
        using var source = StoriesExports.LoadSource();
        var tok = source.RequireTokenizer();
        using var tmp = new TempDir();
        GgufExporter.Export(source.Model, tok, GgmlType.F32, tmp.File("f32.gguf"), "stories260K");
        GgufExporter.Export(source.Model, tok, quant, tmp.File("direct.gguf"), "stories260K");
        LlamaCpp.Quantize(tmp.File("f32.gguf"), tmp.File("judge.gguf"), quant.FileType);
        LlamaQuantizeJudgeTests.AssertSameTensors(tmp.File("direct.gguf"), tmp.File("judge.gguf"), $"stories260K {typeName}", _log);
    }

    private void Judge(string typeName, int intermediate, int kvHeads, int headDim, bool tied = false, bool pure = false)
    {
        Assert.True(GgufQuantType.TryParse(typeName, pure, out var quant));
        var tok = LlamaQuantizeJudgeTests.Tok512();
        using var model = LlamaQuantizeJudgeTests.RandomModel(out _, hidden: 256, intermediate: intermediate, headDim: headDim, layers: 8, heads: 4, kvHeads: kvHeads, tied: tied);
        using var tmp = new TempDir();
        GgufExporter.Export(model, tok, GgmlType.F32, tmp.File("f32.gguf"));
        var direct = GgufExporter.Export(model, tok, quant, tmp.File("direct.gguf"));
        _log.WriteLine($"{direct.Notes.Count} fallback notes{(direct.Notes.Count > 0 ? ", first: " + direct.Notes[0] : "")}");
        LlamaCpp.Quantize(tmp.File("f32.gguf"), tmp.File("judge.gguf"), quant.FileType, pure: pure);
        LlamaQuantizeJudgeTests.AssertSameTensors(tmp.File("direct.gguf"), tmp.File("judge.gguf"), $"{typeName}{(pure ? " --pure" : "")}", _log);
        using var mine = GgufFile.Open(tmp.File("direct.gguf"));
        Assert.Equal(quant.FileType, mine.GetU32("general.file_type"));
    }
}
