using System.Text.Json.Nodes;
using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tests.Integration;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Models;

/// <summary>Llama 3 (llama3 RoPE, tied embeddings, several EOS ids), Llama with attention/MLP biases and linear RoPE,
/// Mistral, Qwen 2 (q/k/v biases; with yarn), Qwen 3 (q/k norms, head_dim ≠ hidden/heads): loaded from an HF folder
/// written by hand as a download would be, checked against <see cref="FamilyReference"/>'s float64 forward, trained,
/// saved and reloaded.</summary>
public class ModelFamilyTests
{
    public static TheoryData<string> Families => new() { "llama3", "llama-biased", "mistral", "qwen2", "qwen2-yarn", "qwen3", "qwen3-biased" };

    internal static FamilySpec Spec(string name) => name switch
    {
        "llama3" => FamilySpec.Llama3(),
        "llama-biased" => FamilySpec.LlamaBiased(),
        "llama-attention-bias" => FamilySpec.LlamaAttentionBias(),
        "mistral" => FamilySpec.Mistral(),
        "qwen2" => FamilySpec.Qwen2(),
        "qwen2-yarn" => FamilySpec.Qwen2Yarn(),
        "qwen3" => FamilySpec.Qwen3(),
        "qwen3-biased" => FamilySpec.Qwen3(attentionBias: true),
        _ => throw new ArgumentException(name),
    };

    internal static readonly int[] Prompt = [1, 17, 300, 42, 511, 8, 99, 256, 3, 77, 120, 5];

    private static LoadedModel Load(string dir, bool trainable = false) =>
        ModelLoader.Load(dir, CpuBackend.Instance, new WeightOptions { Trainable = trainable ? _ => true : null });

    internal static void AssertClose(double[] want, float[] got, double tol, string what)
    {
        Assert.Equal(want.Length, got.Length);
        double worst = 0;
        int at = 0;
        for (int i = 0; i < want.Length; i++)
        {
            double e = Math.Abs(got[i] - want[i]) / Math.Max(1, Math.Abs(want[i]));
            if (e > worst) { worst = e; at = i; }
        }
        Assert.True(worst <= tol, $"{what}: worst relative difference {worst:E2} at {at} ({got[at]} vs {want[at]}), bound {tol:E0}");
    }

    // The reference is float64; engine computes in fp32 (logits of magnitude ~1-10 carry ~1e-6 rounding), so 1e-4
    // relative with a floor of 1 is the bound, as for stories260K against its reference.
    [Theory]
    [MemberData(nameof(Families))]
    public void Logits_of_a_model_loaded_from_an_hf_folder_match_the_float64_reference(string family)
    {
        var spec = Spec(family);
        var w = spec.RandomWeights(11);
        using var tmp = new TempDir();
        spec.WriteHfFolder(tmp.Path, w);
        using var m = Load(tmp.Path);
        AssertClose(FamilyReference.Logits(spec, w, Prompt), Stories260KTests.FullLogits(m.Model, Prompt), 1e-4, family);
    }

    [Fact]
    public void Config_fields_of_each_family_are_read_as_transformers_defines_them()
    {
        var l = LlamaConfig.FromHfJson(FamilySpec.Llama3().ConfigJson(), "config.json");
        Assert.Equal(ModelFamily.Llama, l.Family);
        Assert.Equal([2, 5, 7], l.EosTokenIds);
        Assert.Equal(2, l.EosTokenId);
        Assert.Equal(RopeScalingType.Llama3, l.RopeScaling!.Type);
        Assert.True(l.TieWordEmbeddings);
        Assert.Null(l.SlidingWindow);

        var q3 = FamilySpec.Qwen3().ConfigJson();
        q3.Remove("head_dim");
        var c3 = LlamaConfig.FromHfJson(q3, "config.json");
        Assert.Equal(128, c3.HeadDim); // Qwen3Config's default head_dim, not hidden / heads
        Assert.True(c3.HasQkNorm);
        Assert.False(c3.HasBias("q_proj"));

        var q2 = LlamaConfig.FromHfJson(FamilySpec.Qwen2().ConfigJson(), "config.json");
        Assert.True(q2.HasBias("q_proj") && q2.HasBias("k_proj") && q2.HasBias("v_proj"));
        Assert.False(q2.HasBias("o_proj") || q2.HasBias("gate_proj"));
        Assert.Null(q2.SlidingWindow); // use_sliding_window false

        // Qwen 2 with use_sliding_window: layers ≥ max_window_layers use the window (layer_types' default).
        var q2w = FamilySpec.Qwen2().ConfigJson();
        q2w["use_sliding_window"] = true;
        q2w["sliding_window"] = 6;
        var cw = LlamaConfig.FromHfJson(q2w, "config.json");
        Assert.Equal([0, 6], Enumerable.Range(0, 2).Select(cw.WindowOf));
        q2w["layer_types"] = new JsonArray("sliding_attention", "sliding_attention");
        Assert.Equal([6, 6], Enumerable.Range(0, 2).Select(LlamaConfig.FromHfJson(q2w, "config.json").WindowOf));

        // Mistral: the window applies to every layer; absent means MistralConfig's 4096, null means none.
        var mj = FamilySpec.Mistral().ConfigJson();
        Assert.Null(LlamaConfig.FromHfJson(mj, "config.json").SlidingWindow);
        mj["sliding_window"] = 5;
        Assert.Equal([5, 5], Enumerable.Range(0, 2).Select(LlamaConfig.FromHfJson(mj, "config.json").WindowOf));
        mj.Remove("sliding_window");
        Assert.Equal(4096, LlamaConfig.FromHfJson(mj, "config.json").SlidingWindow);

        // transformers 5 writes rope_parameters (rope_theta inside) instead of rope_theta + rope_scaling.
        var v5 = FamilySpec.Llama3().ConfigJson();
        var rp = v5["rope_scaling"]!.DeepClone().AsObject();
        rp["rope_theta"] = 500000.0;
        v5.Remove("rope_scaling");
        v5.Remove("rope_theta");
        v5["rope_parameters"] = rp;
        Assert.Equal(l, LlamaConfig.FromHfJson(v5, "config.json"));
    }

    /// <summary>Llama 3.1's rope_scaling (factor 8, low 1, high 4, original 8192, θ 500000, head_dim 128) by hand from
    /// transformers' _compute_llama3_parameters: low_freq_wavelen = 8192, high_freq_wavelen = 2048.
    /// i = 0: inv 1, wavelength 2π &lt; 2048 → kept, 1.
    /// i = 32: inv = 500000^−0.5 = 1/707.10678 = 1.4142136e-3, wavelength 2π·707.10678 = 4442.883 (medium band);
    /// smooth = (8192/4442.883 − 1)/(4 − 1) = 0.2812826; inv' = (1 − 0.2812826)·1.4142136e-3/8 + 0.2812826·1.4142136e-3
    /// = 1.2705e-4 + 3.9780e-4 = 5.248462e-4.
    /// i = 48: inv = 500000^−0.75 = 5.3182959e-5, wavelength 118142.8 > 8192 → inv/8 = 6.6478699e-6.</summary>
    [Fact]
    public void Llama31_rope_frequencies_equal_the_values_computed_by_hand()
    {
        var c = LlamaConfig.FromHfJson(new JsonObject
        {
            ["model_type"] = "llama", ["hidden_size"] = 4096, ["intermediate_size"] = 14336, ["num_hidden_layers"] = 1,
            ["num_attention_heads"] = 32, ["num_key_value_heads"] = 8, ["vocab_size"] = 128256, ["rope_theta"] = 500000.0,
            ["max_position_embeddings"] = 131072,
            ["rope_scaling"] = new JsonObject { ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 8192, ["rope_type"] = "llama3" },
        }, "config.json");
        var inv = RopeScaling.InverseFrequencies(c.RopeScaling, c.HeadDim, c.RopeTheta, c.MaxPositionEmbeddings);
        Assert.Equal(64, inv.Length);
        Assert.Equal(1.0, inv[0], 12);
        Assert.Equal(5.248462e-4, inv[32], 1e-9);
        Assert.Equal(6.6478699e-6, inv[48], 1e-12);
        Assert.Equal(1.0, RopeScaling.AttentionScale(c.RopeScaling));
    }

    /// <summary>Qwen 2.5's yarn recipe (factor 4, original 32768, θ 1e6, head_dim 128) by hand from transformers'
    /// _compute_yarn_parameters: correction dims d·ln(32768/(β·2π))/(2·ln 1e6) are 23.596 (β = 32) and 39.651 (β = 1),
    /// truncated to low 23, high 40. i = 30: ramp (30 − 23)/17 = 0.411765, so inv' = inv·(0.411765/4 + 0.588235) =
    /// 1.5399265e-3·0.6911765 = 1.0643610e-3; i = 10 (below low) keeps 0.11547820; i = 40 (above high) is inv/4 =
    /// 4.4456985e-5. cos/sin are scaled by 0.1·ln 4 + 1 = 1.1386294.</summary>
    [Fact]
    public void Qwen_yarn_frequencies_and_attention_factor_equal_the_values_computed_by_hand()
    {
        var c = LlamaConfig.FromHfJson(new JsonObject
        {
            ["model_type"] = "qwen2", ["hidden_size"] = 5120, ["intermediate_size"] = 13824, ["num_hidden_layers"] = 1,
            ["num_attention_heads"] = 40, ["num_key_value_heads"] = 8, ["vocab_size"] = 152064, ["rope_theta"] = 1000000.0,
            ["max_position_embeddings"] = 32768,
            ["rope_scaling"] = new JsonObject { ["factor"] = 4.0, ["original_max_position_embeddings"] = 32768, ["type"] = "yarn" },
        }, "config.json");
        var inv = RopeScaling.InverseFrequencies(c.RopeScaling, c.HeadDim, c.RopeTheta, c.MaxPositionEmbeddings);
        Assert.Equal(0.11547820, inv[10], 1e-8);
        Assert.Equal(1.0643610e-3, inv[30], 1e-9);
        Assert.Equal(4.4456985e-5, inv[40], 1e-12);
        Assert.Equal(1.1386294, RopeScaling.AttentionScale(c.RopeScaling), 1e-7);
    }

    private static float StepLoss(LlamaModel m, Tensor ids, Tensor targets, int count, AdamWOptimizer? opt)
    {
        using var scope = new TensorScope();
        using var loss = m.Loss(ids, targets, 1f / count, new ForwardContext(true, 1));
        var v = new float[1];
        m.Backend.ToFloats(loss, v);
        if (opt is not null)
        {
            loss.Backward();
            opt.Step(3e-3f, 1f);
            opt.ZeroGrad();
        }
        return v[0];
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Full_fine_tuning_and_lora_lower_the_loss_and_lora_leaves_biases_and_norms_frozen(string family)
    {
        var spec = Spec(family);
        var w = spec.RandomWeights(5);
        using var tmp = new TempDir();
        spec.WriteHfFolder(tmp.Path, w);
        int[,] batch = { { 1, 40, 41, 42, 43, 44, 45, 46 }, { 1, 40, 41, 42, 43, 44, 45, 46 } };

        using (var full = Load(tmp.Path, trainable: true))
        {
            var m = full.Model;
            Assert.All(m.Parameters.All, p => Assert.True(p.Tensor.RequiresGrad, p.Name));
            var (ids, tg, count) = TinyLlama.Batch(m, batch);
            using var opt = new AdamWOptimizer(m.Backend, m.Parameters.Trainable, new AdamWOptions());
            var losses = Enumerable.Range(0, 6).Select(_ => StepLoss(m, ids, tg, count, opt)).ToArray();
            Assert.All(losses, l => Assert.True(float.IsFinite(l)));
            Assert.True(losses[^1] < losses[0] - 0.05, $"full: {string.Join(", ", losses)}");
            ids.Dispose(); tg.Dispose();
        }
        using (var frozen = Load(tmp.Path))
        {
            var m = frozen.Model;
            using var lora = LoraAdapter.Inject(m, new LoraOptions { R = 4, Alpha = 8, Targets = LoraOptions.ParseTargets("all-linear") });
            var (ids, tg, count) = TinyLlama.Batch(m, batch);
            using var opt = new AdamWOptimizer(m.Backend, lora.Parameters.All, new AdamWOptions());
            var losses = Enumerable.Range(0, 6).Select(_ => StepLoss(m, ids, tg, count, opt)).ToArray();
            Assert.All(losses, l => Assert.True(float.IsFinite(l)));
            Assert.True(losses[^1] < losses[0] - 0.05, $"lora: {string.Join(", ", losses)}");
            Assert.All(m.Parameters.All, p => Assert.Null(p.Tensor.Grad));
            ids.Dispose(); tg.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void A_saved_model_reloads_with_its_family_fields_and_the_same_logits(string family)
    {
        var spec = Spec(family);
        var w = spec.RandomWeights(21);
        using var tmp = new TempDir();
        spec.WriteHfFolder(tmp.File("src"), w);
        using var m = Load(tmp.File("src"));
        HfModelWriter.Save(m.Model, tmp.File("saved"));
        var saved = JsonNode.Parse(File.ReadAllText(tmp.File("saved/config.json")))!.AsObject();
        Assert.Equal(spec.ModelType, saved["model_type"]!.GetValue<string>());
        Assert.Equal(spec.Architecture, saved["architectures"]![0]!.GetValue<string>());
        Assert.Equal(spec.Tie, saved["tie_word_embeddings"]!.GetValue<bool>());
        Assert.Equal(spec.HeadDim, saved["head_dim"]!.GetValue<int>());
        Assert.Equal(spec.RopeScaling is null, saved["rope_scaling"] is null);
        if (spec.RopeScaling is { } rs)
            foreach (var (k, v) in rs)
                if (k != "type") Assert.Equal(v!.ToJsonString(), saved["rope_scaling"]![k == "type" ? "rope_type" : k]!.ToJsonString());
        switch (spec.ModelType)
        {
            case "qwen2" or "qwen3":
                Assert.False(saved["use_sliding_window"]!.GetValue<bool>());
                Assert.NotNull(saved["max_window_layers"]);
                break;
            case "mistral":
                Assert.True(saved.ContainsKey("sliding_window"));
                break;
        }
        if (spec.ModelType is "llama" or "qwen3") Assert.Equal(spec.OBias, saved["attention_bias"]!.GetValue<bool>());
        using var back = Load(tmp.File("saved"));
        Assert.Equal(m.Model.Config, back.Model.Config);
        Assert.Equal(Stories260KTests.FullLogits(m.Model, Prompt), Stories260KTests.FullLogits(back.Model, Prompt));
    }

    [Theory]
    [InlineData("qwen2")]
    [InlineData("qwen3-biased")]
    [InlineData("llama-biased")]
    public void A_lora_adapter_round_trips_and_merging_it_gives_the_adapted_logits(string family)
    {
        var spec = Spec(family);
        var w = spec.RandomWeights(31);
        using var tmp = new TempDir();
        spec.WriteHfFolder(tmp.File("base"), w);
        using var m = Load(tmp.File("base"));
        using var lora = LoraAdapter.Inject(m.Model, new LoraOptions { R = 2, Alpha = 4, Targets = LoraOptions.ParseTargets("q_proj,k_proj,v_proj,o_proj,down_proj") });
        var rng = new Rng(4);
        foreach (var (_, t) in lora.Parameters.All) rng.FillNormal(t.F32(), 0, 0.3);
        var adapted = Stories260KTests.FullLogits(m.Model, Prompt);
        PeftAdapterIO.Save(lora, tmp.File("adapter"), null);

        using var again = Load(tmp.File("base"));
        using var loaded = PeftAdapterIO.Load(again.Model, tmp.File("adapter"));
        Assert.Equal(adapted, Stories260KTests.FullLogits(again.Model, Prompt));

        LoraAdapter.MergeInto(again.Model);
        var merged = Stories260KTests.FullLogits(again.Model, Prompt);
        // fp32 rounds W + s·B·A once instead of the two products separately: measured 1.3e-5, bound 1e-4.
        AssertClose(adapted.Select(x => (double)x).ToArray(), merged, 1e-4, "merged");
        // The merged model saves and reloads as a plain model of its family, biases included.
        HfModelWriter.Save(again.Model, tmp.File("merged"));
        using var reloaded = Load(tmp.File("merged"));
        Assert.Equal(merged, Stories260KTests.FullLogits(reloaded.Model, Prompt));
    }

    [Fact]
    public void Bias_and_head_norm_gradients_pass_a_finite_difference_check()
    {
        var rng = new Rng(2);
        using var x = GradCheck.Param(rng, 3, 5);
        using var wt = GradCheck.Param(rng, 4, 5);
        using var b = GradCheck.Param(rng, 4);
        GradCheck.Check(t => Bias.Add(Ops.Linear(t[0], t[1]), t[2]), [x, wt, b]);
        using var heads = GradCheck.Param(rng, 3, 2, 4);
        using var g = GradCheck.Param(rng, 4);
        GradCheck.Check(t => Ops.RmsNorm(t[0], t[1], 1e-6f), [heads, g]);
    }

    /// <summary>Llama 3.1's rope_freqs.weight as convert_hf_to_gguf.py computes it (per pair 1, factor, or
    /// 1/((1 − smooth)/factor + smooth); pair 32 by hand: 1/((1 − 0.2812826)/8 + 0.2812826) = 1/(0.0898397 + 0.2812826) = 2.694530) is read back as
    /// the llama3 scaling it came from; divisors of another shape are refused with the reason.</summary>
    [Fact]
    public void Llama31_rope_divisors_are_recognised_as_its_llama3_scaling()
    {
        var inv = RopeScaling.DefaultInverseFrequencies(128, 500000);
        var divisors = inv.Select(f =>
        {
            double wl = 2 * Math.PI / f;
            if (wl < 2048) return 1f;
            if (wl > 8192) return 8f;
            double smooth = (8192 / wl - 1) / 3;
            return (float)(1 / ((1 - smooth) / 8 + smooth));
        }).ToArray();
        Assert.Equal(2.694530, divisors[32], 1e-5);
        var s = RopeScaling.FromLlama3Divisors(divisors, 128, 500000, out var why);
        Assert.Null(why);
        Assert.Equal(new RopeScaling { Type = RopeScalingType.Llama3, Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositions = 8192 }, s);

        divisors[33] = 5f; // no longer on the smoothed curve
        Assert.Null(RopeScaling.FromLlama3Divisors(divisors, 128, 500000, out why));
        Assert.StartsWith("is not llama3 scaling: pair", why);
    }

    /// <summary>config.json of released models (as published on the Hugging Face hub) parse with their family's fields,
    /// and the parameter counts (biases and q/k norms included) round to the published sizes: Qwen2.5-0.5B 0.49B
    /// (0.36B non-embedding, model card), Qwen3-0.6B 0.6B (0.44B non-embedding, model card), Llama-3.2-1B 1.24B (hub),
    /// Mistral-7B-v0.3 7.25B (hub).</summary>
    [Theory]
    [InlineData("""{"architectures":["Qwen2ForCausalLM"],"attention_dropout":0.0,"bos_token_id":151643,"eos_token_id":151643,"hidden_act":"silu","hidden_size":896,"initializer_range":0.02,"intermediate_size":4864,"max_position_embeddings":32768,"max_window_layers":24,"model_type":"qwen2","num_attention_heads":14,"num_hidden_layers":24,"num_key_value_heads":2,"rms_norm_eps":1e-06,"rope_theta":1000000.0,"sliding_window":32768,"tie_word_embeddings":true,"torch_dtype":"bfloat16","transformers_version":"4.40.1","use_cache":true,"use_sliding_window":false,"vocab_size":151936}""", 0.49, 0.36)]
    [InlineData("""{"architectures":["Qwen3ForCausalLM"],"attention_bias":false,"attention_dropout":0.0,"bos_token_id":151643,"eos_token_id":151645,"head_dim":128,"hidden_act":"silu","hidden_size":1024,"initializer_range":0.02,"intermediate_size":3072,"max_position_embeddings":40960,"max_window_layers":28,"model_type":"qwen3","num_attention_heads":16,"num_hidden_layers":28,"num_key_value_heads":8,"rms_norm_eps":1e-06,"rope_scaling":null,"rope_theta":1000000,"sliding_window":null,"tie_word_embeddings":true,"torch_dtype":"bfloat16","transformers_version":"4.51.0","use_cache":true,"use_sliding_window":false,"vocab_size":151936}""", 0.6, 0.44)]
    [InlineData("""{"architectures":["LlamaForCausalLM"],"attention_bias":false,"attention_dropout":0.0,"bos_token_id":128000,"eos_token_id":128001,"head_dim":64,"hidden_act":"silu","hidden_size":2048,"initializer_range":0.02,"intermediate_size":8192,"max_position_embeddings":131072,"mlp_bias":false,"model_type":"llama","num_attention_heads":32,"num_hidden_layers":16,"num_key_value_heads":8,"pretraining_tp":1,"rms_norm_eps":1e-05,"rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},"rope_theta":500000.0,"tie_word_embeddings":true,"torch_dtype":"bfloat16","transformers_version":"4.45.0.dev0","use_cache":true,"vocab_size":128256}""", 1.24, null)]
    [InlineData("""{"architectures":["MistralForCausalLM"],"attention_dropout":0.0,"bos_token_id":1,"eos_token_id":2,"hidden_act":"silu","hidden_size":4096,"initializer_range":0.02,"intermediate_size":14336,"max_position_embeddings":32768,"model_type":"mistral","num_attention_heads":32,"num_hidden_layers":32,"num_key_value_heads":8,"rms_norm_eps":1e-05,"rope_theta":1000000.0,"sliding_window":null,"tie_word_embeddings":false,"torch_dtype":"bfloat16","transformers_version":"4.42.0.dev0","use_cache":true,"vocab_size":32768}""", 7.25, null)]
    public void Released_configs_parse_and_count_their_published_parameters(string json, double billions, double? nonEmbeddingBillions)
    {
        var c = LlamaConfig.FromHfJson(JsonNode.Parse(json)!.AsObject(), "config.json");
        Assert.Null(c.SlidingWindow);
        int digits = c.Family == ModelFamily.Qwen3 ? 1 : 2; // "0.6B"
        Assert.Equal(billions, Math.Round(c.ParameterCount / 1e9, digits));
        if (nonEmbeddingBillions is double ne)
            Assert.Equal(ne, Math.Round((c.ParameterCount - (long)c.VocabSize * c.HiddenSize) / 1e9, 2));
        // The config engine writes back is one transformers reads as the same model.
        Assert.Equal(c, LlamaConfig.FromHfJson(JsonNode.Parse(c.ToHfJson("bfloat16").ToJsonString())!.AsObject(), "config.json"));
    }
}
