using System.Text.Json.Nodes;
using System.Text;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Models;
using Engine.Nn;
using Engine.Quant;
using Engine.Tensors;
using Engine.Tests.Integration;
using Engine.Tests.Support;

namespace Engine.Tests.Qlora;

/// <summary><c>engine quantize</c> writes what transformers + bitsandbytes save for a 4-bit model, and engine loads such
/// folders (its own or written by hand in bnb's layout) straight into NF4 layers.</summary>
public class QuantizedFolderTests
{
    private static readonly int[] Ids = { 1, 403, 407, 261, 378, 432 };

    private static LoadedModel Load(string dir, Nf4Options? nf4 = null) =>
        ModelLoader.Load(dir, CpuBackend.Instance, new WeightOptions { Nf4 = nf4 });

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Quantize_then_load_gives_the_in_memory_qlora_models_logits(bool dq)
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        var outDir = tmp.File("q");
        var args = new List<string> { "quantize", "--model", dir, "--type", "nf4", "--out", outDir };
        if (!dq) args.Add("--no-double-quant");
        var (exit, output, err) = CliHarness.Run(args.ToArray());
        Assert.True(exit == 0, err);
        Assert.Contains($"quantized 35 projections to {(dq ? "NF4 + double quant" : "NF4")}", output);

        using var loaded = Load(outDir);
        var layers = Nf4Quantization.QuantizedProjections(loaded.Model).ToList();
        Assert.Equal(35, layers.Count);
        Assert.All(layers, l => Assert.Equal(dq, l.Linear.IsDoubleQuantized));
        Assert.NotNull(loaded.Tokenizer);

        // The in-memory QLoRA model of the same weights as transformers would hold them (torch_dtype=bfloat16: the
        // unquantized tensors rounded to bf16, as the quantized folder stores them).
        var bf16Dir = tmp.File("bf16");
        using (var m = Load(dir)) HfModelWriter.Save(m.Model, bf16Dir, DType.BF16, m.TokenizerPath);
        using var inMemory = Load(bf16Dir, new Nf4Options(dq));
        foreach (var ((name, a), (_, b)) in Nf4Quantization.QuantizedProjections(inMemory.Model).Zip(layers))
        {
            var wa = a.Download();
            var wb = b.Download();
            Assert.True(wa.Packed.AsSpan().SequenceEqual(wb.Packed), $"{name}: codes differ");
            Assert.Equal(wa.QuantStateJson(), wb.QuantStateJson());
        }
        Assert.Equal(Stories260KTests.FullLogits(inMemory.Model, Ids), Stories260KTests.FullLogits(loaded.Model, Ids));
    }

    [Fact]
    public void The_safetensors_hold_bitsandbytes_names_dtypes_and_shapes()
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        var outDir = tmp.File("q");
        var (exit, _, err) = CliHarness.Run("quantize", "--model", dir, "--out", outDir);
        Assert.True(exit == 0, err);
        using var st = SafeTensorsFile.Open(Path.Combine(outDir, "model.safetensors"));

        void Has(string name, string dtype, params int[] shape)
        {
            Assert.True(st.Contains(name), $"{name} missing");
            Assert.Equal(dtype, st.StoredDType(name).Name);
            Assert.Equal(shape, st.Info(name).Shape);
        }
        // q_proj 64×64 = 4096 weights: 2048 packed bytes, 64 blocks, one nested block.
        const string q = "model.layers.0.self_attn.q_proj.";
        Has(q + "weight", "U8", 2048, 1);
        Has(q + "weight.absmax", "U8", 64);
        Has(q + "weight.quant_map", "F32", 16);
        Has(q + "weight.nested_absmax", "F32", 1);
        Has(q + "weight.nested_quant_map", "F32", 256);
        // down_proj 64×172 = 11008 weights: blocks of 64 cross its rows.
        const string down = "model.layers.4.mlp.down_proj.";
        Has(down + "weight", "U8", 5504, 1);
        Has(down + "weight.absmax", "U8", 172);
        var json = Encoding.UTF8.GetString(st.ReadBytes(down + Nf4BnbState.QuantStateName));
        Assert.Equal(json.Length, st.Info(down + Nf4BnbState.QuantStateName).Shape.Single());
        Assert.StartsWith("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [64, 172], " +
                          "\"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.", json);
        Assert.Equal(Nf4.CodeValues.ToArray(), Floats(st, q + "weight.quant_map"));
        Assert.Equal(DynamicQuantMap.Signed.ToArray(), Floats(st, q + "weight.nested_quant_map"));
        // Everything else in bf16; six tensors per projection and nothing dense left for them.
        Has("model.embed_tokens.weight", "BF16", 512, 64);
        Has("model.layers.0.input_layernorm.weight", "BF16", 64);
        Has("model.norm.weight", "BF16", 64);
        Assert.Equal(1 + 5 * 2 + 1 + 35 * 6, st.Names.Count);

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "config.json")))!.AsObject();
        Assert.Equal("bfloat16", config["torch_dtype"]!.GetValue<string>());
        var qc = config["quantization_config"]!.AsObject();
        Assert.Equal(new[]
        {
            "_load_in_4bit", "_load_in_8bit", "bnb_4bit_compute_dtype", "bnb_4bit_quant_storage", "bnb_4bit_quant_type",
            "bnb_4bit_use_double_quant", "llm_int8_enable_fp32_cpu_offload", "llm_int8_has_fp16_weight", "llm_int8_skip_modules",
            "llm_int8_threshold", "load_in_4bit", "load_in_8bit", "quant_method",
        }, qc.Select(kv => kv.Key));
        Assert.Equal("bitsandbytes", qc["quant_method"]!.GetValue<string>());
        Assert.Equal("nf4", qc["bnb_4bit_quant_type"]!.GetValue<string>());
        Assert.True(qc["bnb_4bit_use_double_quant"]!.GetValue<bool>());
        Assert.True(qc["load_in_4bit"]!.GetValue<bool>());
        Assert.Equal("bfloat16", qc["bnb_4bit_compute_dtype"]!.GetValue<string>());
    }

    private static float[] Floats(SafeTensorsFile st, string name)
    {
        var f = new float[st.Info(name).NumElements];
        st.ReadFloats(name, f);
        return f;
    }

    /// <summary>A folder as another tool would write it: tensors in another order, bnb's per-weight tensors built
    /// straight from <see cref="Nf4Weight.ToBnbState"/>, q_proj left dense (transformers' llm_int8_skip_modules), and a
    /// config.json carrying extra keys.</summary>
    [Fact]
    public void A_hand_written_bnb_folder_loads_into_nf4_layers_without_dequantizing()
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        using var src = Load(dir);
        var c = src.Model.Config;
        var outDir = tmp.File("bnb");
        Directory.CreateDirectory(outDir);
        var writer = new SafeTensorsWriter(new Dictionary<string, string> { ["format"] = "pt" });
        var expected = new Dictionary<string, Nf4Weight>();
        foreach (var (name, t) in src.Model.Parameters.All.Reverse())
        {
            var f = GradCheck.Values(t);
            bool quantize = LlamaWeights.IsProjection(name) && !name.Contains("q_proj");
            if (!quantize)
            {
                writer.AddFloats(name, t.Shape.ToArray(), f, DType.BF16);
                continue;
            }
            var bits = new ushort[f.Length];
            HalfConversions.FloatToBF16(f, bits);
            var w = Nf4Weight.QuantizeBf16(bits, t.Shape[0], t.Shape[1], doubleQuant: true);
            expected[name] = w;
            var prefix = name[..^"weight".Length];
            foreach (var bt in w.ToBnbState())
                writer.Add(prefix + bt.Name, bt.DType == "U8" ? DType.U8 : DType.F32, bt.Shape, bt.Data);
        }
        writer.Write(Path.Combine(outDir, "model.safetensors"));
        var config = c.ToHfJson("bfloat16");
        config["_name_or_path"] = "someone/stories260K-bnb-4bit";
        config["transformers_version"] = "4.44.0";
        config["quantization_config"] = JsonNode.Parse("""
            {"_load_in_4bit": true, "_load_in_8bit": false, "bnb_4bit_compute_dtype": "bfloat16", "bnb_4bit_quant_storage": "uint8",
             "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": true, "llm_int8_enable_fp32_cpu_offload": false,
             "llm_int8_has_fp16_weight": false, "llm_int8_skip_modules": ["q_proj", "lm_head"], "llm_int8_threshold": 6.0,
             "load_in_4bit": true, "load_in_8bit": false, "quant_method": "bitsandbytes"}
            """);
        File.WriteAllText(Path.Combine(outDir, "config.json"), config.ToJsonString());

        using var loaded = ModelLoader.Load(outDir, CpuBackend.Instance, new WeightOptions(), src.TokenizerPath);
        Assert.IsType<Linear>(loaded.Model.Layers[3].Q);
        var layers = Nf4Quantization.QuantizedProjections(loaded.Model).ToDictionary(p => p.Name, p => p.Linear);
        Assert.Equal(30, layers.Count);
        foreach (var (name, w) in expected)
            Assert.True(layers[name].Download().Packed.AsSpan().SequenceEqual(w.Packed), name);

        // Same logits as the in-memory quantization of the bf16-rounded weights, with q_proj kept dense.
        var bf16Dir = tmp.File("bf16");
        HfModelWriter.Save(src.Model, bf16Dir, DType.BF16, src.TokenizerPath);
        using var reference = Load(bf16Dir);
        foreach (var layer in reference.Model.Layers)
            foreach (var (proj, _) in LlamaNames.Projections)
            {
                if (proj == "q_proj") continue;
                var dense = (Linear)layer.Get(proj);
                var q = Nf4Linear.Quantize(dense.Weight, doubleQuant: true);
                layer.Set(proj, q);
                reference.Model.Owned.Add(q);
            }
        Assert.Equal(Stories260KTests.FullLogits(reference.Model, Ids), Stories260KTests.FullLogits(loaded.Model, Ids));
    }

    [Theory]
    [InlineData("\"quant_method\": \"gptq\"", "quant_method")]
    [InlineData("\"quant_method\": \"bitsandbytes\", \"load_in_8bit\": true", "load_in_8bit")]
    [InlineData("\"quant_method\": \"bitsandbytes\", \"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"fp4\"", "bnb_4bit_quant_type")]
    public void Other_quantization_methods_are_refused_by_name(string entries, string field)
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        var path = Path.Combine(dir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config["quantization_config"] = JsonNode.Parse("{" + entries + "}");
        File.WriteAllText(path, config.ToJsonString());
        var e = Assert.Throws<FileFormatException>(() => Load(dir));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("quantization_config." + field, e.Message);
    }

    [Fact]
    public void A_bnb_weight_whose_shape_disagrees_with_the_config_is_named()
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        var outDir = tmp.File("q");
        Assert.Equal(0, CliHarness.Run("quantize", "--model", dir, "--out", outDir).Exit);
        var path = Path.Combine(outDir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config["intermediate_size"] = 160;
        File.WriteAllText(path, config.ToJsonString());
        var e = Assert.Throws<FileFormatException>(() => Load(outDir));
        Assert.Contains("model.layers.0.mlp.gate_proj.weight.quant_state.bitsandbytes__nf4", e.Message);
        Assert.Contains("[172, 64]", e.Message);
    }

    [Fact]
    public void Info_counts_the_quantized_parameters_and_full_training_refuses_nf4_weights()
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        var outDir = tmp.File("q");
        Assert.Equal(0, CliHarness.Run("quantize", "--model", dir, "--out", outDir).Exit);
        var dense = System.Text.Json.JsonDocument.Parse(CliHarness.Run("info", "--model", dir, "--json").Out).RootElement;
        var quant = System.Text.Json.JsonDocument.Parse(CliHarness.Run("info", "--model", outDir, "--json").Out).RootElement;
        Assert.Equal(dense.GetProperty("parameters").GetInt64(), quant.GetProperty("parameters").GetInt64());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, dense.GetProperty("quantization").ValueKind);
        Assert.Equal("nf4+dq", quant.GetProperty("quantization").GetString());

        var e = Assert.Throws<EngineException>(() =>
            ModelLoader.Load(outDir, CpuBackend.Instance, new WeightOptions { Trainable = _ => true }));
        Assert.Contains("model.layers.0.self_attn.q_proj.weight is NF4-quantized and cannot be trained", e.Message);
    }
}
