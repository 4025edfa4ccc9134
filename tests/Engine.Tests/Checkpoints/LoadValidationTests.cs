using System.Text;
using System.Text.Json.Nodes;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Models;
using Engine.Tensors;
using Engine.Tests.Integration;
using Engine.Tests.Models;
using Engine.Tests.Support;

namespace Engine.Tests.Checkpoints;

/// <summary>What would load as garbage is refused by name: non-float or non-finite weights, bias tensors, an untied
/// lm_head under tie_word_embeddings, adapter fields and tensors engine does not apply, non-UTF-8 GGUF strings,
/// GGUF integers that overflow, and a safetensors file passed as --model.</summary>
public class LoadValidationTests
{
    private static string TinyHf(string root)
    {
        var dir = Path.Combine(root, "tiny");
        using var m = TinyLlama.Create(TinyLlama.Config(), trainable: false);
        HfModelWriter.Save(m, dir, DType.F32);
        return dir;
    }

    /// <summary>Rewrites model.safetensors, letting <paramref name="edit"/> replace one tensor or add others.</summary>
    private static void Rewrite(string dir, Func<SafeTensorsWriter, string, int[], float[], bool> edit, Action<SafeTensorsWriter>? add = null)
    {
        var path = Path.Combine(dir, "model.safetensors");
        var w = new SafeTensorsWriter(new Dictionary<string, string> { ["format"] = "pt" });
        using (var src = SafeTensorsFile.Open(path))
        {
            foreach (var name in src.Names)
            {
                var info = src.Info(name);
                var data = new float[info.NumElements];
                src.ReadFloats(name, data);
                if (!edit(w, name, info.Shape, data)) w.AddFloats(name, info.Shape, data);
            }
        }
        add?.Invoke(w);
        w.Write(path + ".new");
        File.Move(path + ".new", path, overwrite: true);
    }

    private static FileFormatException LoadFails(string dir) =>
        Assert.Throws<FileFormatException>(() => ModelLoader.Load(dir, CpuBackend.Instance, new WeightOptions()));

    [Fact]
    public void An_integer_weight_tensor_is_refused_naming_it()
    {
        using var tmp = new TempDir();
        var dir = TinyHf(tmp.Path);
        const string target = "model.layers.1.mlp.up_proj.weight";
        Rewrite(dir, (w, name, shape, data) =>
        {
            if (name != target) return false;
            var ints = data.Select(v => (int)(v * 1000)).ToArray();
            w.Add(name, DType.I32, shape, ints.SelectMany(BitConverter.GetBytes).ToArray());
            return true;
        });
        var e = LoadFails(dir);
        Assert.Equal($"{Path.Combine(dir, "model.safetensors")}: {target}: dtype i32 is not a floating-point type; " +
                     "weights must be f32, f16, bf16 (or a GGUF block type)", e.Message);
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.NegativeInfinity, "-Infinity")]
    public void A_non_finite_weight_is_refused_naming_the_tensor(float bad, string shown)
    {
        using var tmp = new TempDir();
        var dir = TinyHf(tmp.Path);
        const string target = "model.layers.0.self_attn.v_proj.weight";
        Rewrite(dir, (w, name, shape, data) =>
        {
            if (name != target) return false;
            data[5] = bad;
            w.AddFloats(name, shape, data);
            return true;
        });
        var e = LoadFails(dir);
        Assert.Equal($"{Path.Combine(dir, "model.safetensors")}: {target}: holds a non-finite value ({shown} at element 5); the checkpoint is damaged", e.Message);
    }

    [Fact]
    public void A_bias_tensor_is_refused_naming_it()
    {
        using var tmp = new TempDir();
        var dir = TinyHf(tmp.Path);
        Rewrite(dir, (_, _, _, _) => false, w => w.AddFloats("model.layers.0.self_attn.q_proj.bias", [8], new float[8]));
        Assert.Equal($"{Path.Combine(dir, "model.safetensors")}: model.layers.0.self_attn.q_proj.bias: bias tensors are not part of this " +
            "LlamaForCausalLM (config.json: attention_bias false, mlp_bias false)", LoadFails(dir).Message);
    }

    [Fact]
    public void A_qwen2_checkpoint_without_its_q_bias_or_a_llama_one_with_q_norm_is_refused_naming_the_tensor()
    {
        using var tmp = new TempDir();
        var dir = TinyHf(tmp.Path);
        var configPath = Path.Combine(dir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["model_type"] = "qwen2";
        config["architectures"] = new JsonArray("Qwen2ForCausalLM");
        File.WriteAllText(configPath, config.ToJsonString());
        Assert.Equal($"{Path.Combine(dir, "model.safetensors")}: model.layers.0.self_attn.q_proj.bias: tensor missing from the checkpoint", LoadFails(dir).Message);

        var dir2 = TinyHf(Path.Combine(tmp.Path, "b"));
        Rewrite(dir2, (_, _, _, _) => false, w => w.AddFloats("model.layers.1.self_attn.k_norm.weight", [2], new float[2]));
        Assert.Equal($"{Path.Combine(dir2, "model.safetensors")}: model.layers.1.self_attn.k_norm.weight: q/k norms are part of Qwen3ForCausalLM, not LlamaForCausalLM",
            LoadFails(dir2).Message);
    }

    /// <summary>config.json values engine does not implement fail the load (not just the config parser) naming the
    /// field and the value.</summary>
    [Theory]
    [InlineData("model_type", "\"gemma2\"", "model_type: engine runs \"llama\", \"mistral\", \"qwen2\", \"qwen3\" models; got \"gemma2\"")]
    [InlineData("rope_scaling", "{\"rope_type\":\"dynamic\",\"factor\":2.0}", "rope_scaling.rope_type: RoPE scaling \"dynamic\" is not supported; engine implements \"default\", \"linear\", \"llama3\" and \"yarn\"")]
    [InlineData("hidden_act", "\"gelu\"", "hidden_act: engine implements only \"silu\" (SwiGLU); got \"gelu\"")]
    public void A_config_value_engine_does_not_implement_fails_the_load_by_field_and_value(string field, string json, string message)
    {
        using var tmp = new TempDir();
        var dir = TinyHf(tmp.Path);
        var configPath = Path.Combine(dir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config[field] = JsonNode.Parse(json);
        if (field == "model_type") config.Remove("architectures");
        File.WriteAllText(configPath, config.ToJsonString());
        Assert.Equal($"{configPath}: {message}", LoadFails(dir).Message);
    }

    [Fact]
    public void A_tied_config_with_a_different_lm_head_is_refused_and_an_identical_one_loads()
    {
        using var tmp = new TempDir();
        var dir = TinyHf(tmp.Path);
        var cfgPath = Path.Combine(dir, "config.json");
        var cfg = JsonNode.Parse(File.ReadAllText(cfgPath))!.AsObject();
        cfg["tie_word_embeddings"] = true;
        File.WriteAllText(cfgPath, cfg.ToJsonString());
        Assert.Contains("lm_head.weight: differs from model.embed_tokens.weight but config.json says tie_word_embeddings is true", LoadFails(dir).Message);

        float[]? embed = null;
        Rewrite(dir, (_, name, _, data) => { if (name == LlamaNames.Embed) embed = data; return false; });
        Rewrite(dir, (w, name, shape, _) =>
        {
            if (name != LlamaNames.LmHead) return false;
            w.AddFloats(name, shape, embed!);
            return true;
        });
        using var ok = ModelLoader.Load(dir, CpuBackend.Instance, new WeightOptions());
        Assert.True(ok.Model.Config.TieWordEmbeddings);
    }

    [Fact]
    public void A_safetensors_file_as_model_loads_its_folder_or_says_to_pass_the_folder()
    {
        using var tmp = new TempDir();
        var dir = TinyHf(tmp.Path);
        using (var m = ModelLoader.Load(Path.Combine(dir, "model.safetensors"), CpuBackend.Instance, new WeightOptions()))
            Assert.Equal(ModelFormat.HfFolder, m.Format);
        var lone = Path.Combine(tmp.Path, "lone");
        Directory.CreateDirectory(lone);
        File.Copy(Path.Combine(dir, "model.safetensors"), Path.Combine(lone, "model.safetensors"));
        var path = Path.Combine(lone, "model.safetensors");
        var e = Assert.Throws<EngineException>(() => ModelLoader.Load(path, CpuBackend.Instance, new WeightOptions()));
        Assert.Equal($"--model {path}: a safetensors file alone is not a model; pass the folder that holds it with config.json", e.Message);
    }

    // ---- adapters ----

    private static (LlamaModel Model, string Dir) SavedAdapter(string root)
    {
        var model = TinyLlama.Create(TinyLlama.Config(), trainable: false);
        var dir = Path.Combine(root, "adapter");
        using (var a = LoraAdapter.Inject(model, new LoraOptions { R = 2, Targets = ["q_proj", "v_proj"] })) PeftAdapterIO.Save(a, dir, "tiny");
        return (TinyLlama.Create(TinyLlama.Config(), trainable: false), dir);
    }

    public static TheoryData<string, string, string> BadAdapterFields => new()
    {
        { "lora_alpha", "\"16\"", "lora_alpha: expected a number, got \"16\"" },
        { "lora_alpha", "0", "lora_alpha: must be a number > 0, got 0" },
        { "lora_dropout", "1.5", "lora_dropout: must be in [0, 1), got 1.5" },
        { "r", "0", "r: must be a positive integer, got 0" },
        { "r", "\"8\"", "r: expected a positive integer, got \"8\"" },
        { "layers_to_transform", "[0]", "layers_to_transform: adapting only some layers is not supported (got [0]; engine needs null)" },
        { "layers_pattern", "\"layers\"", "layers_pattern: adapting only some layers is not supported (got \"layers\"; engine needs null)" },
        { "modules_to_save", "[\"lm_head\"]", "modules_to_save: fully trained extra modules is not supported (got [\"lm_head\"]; engine needs null)" },
        { "bias", "\"all\"", "bias: only \"none\" is supported, got \"all\"" },
        { "bias", "3", "bias: expected a string, got 3" },
        { "target_modules", "[\"q_proj\", 7]", "target_modules: expected module names, got 7" },
        { "fan_in_fan_out", "true", "fan_in_fan_out: true is not supported (Llama's projections are [out, in])" },
        { "peft_type", "5", "peft_type: expected a string, got 5" },
    };

    [Theory]
    [MemberData(nameof(BadAdapterFields))]
    public void An_adapter_config_field_engine_does_not_apply_is_refused_by_name(string field, string json, string problem)
    {
        using var tmp = new TempDir();
        var (model, dir) = SavedAdapter(tmp.Path);
        using var _ = model;
        var cfgPath = Path.Combine(dir, PeftAdapterIO.ConfigFile);
        var cfg = JsonNode.Parse(File.ReadAllText(cfgPath))!.AsObject();
        cfg[field] = JsonNode.Parse(json);
        File.WriteAllText(cfgPath, cfg.ToJsonString());
        var e = Assert.Throws<FileFormatException>(() => PeftAdapterIO.Load(model, dir));
        Assert.Equal($"{cfgPath}: {problem}", e.Message);
    }

    [Fact]
    public void An_adapter_tensor_the_config_does_not_explain_is_refused_by_name()
    {
        using var tmp = new TempDir();
        var (model, dir) = SavedAdapter(tmp.Path);
        using var _ = model;
        var path = Path.Combine(dir, PeftAdapterIO.WeightsFile);
        var w = new SafeTensorsWriter(new Dictionary<string, string> { ["format"] = "pt" });
        using (var src = SafeTensorsFile.Open(path))
            foreach (var n in src.Names)
            {
                var d = new float[src.Info(n).NumElements];
                src.ReadFloats(n, d);
                w.AddFloats(n, src.Info(n).Shape, d);
            }
        var extra = LoraAdapter.PeftName(0, "k_proj", 'A');
        w.AddFloats(extra, [2, 8], new float[16]);
        w.Write(path);
        var e = Assert.Throws<FileFormatException>(() => PeftAdapterIO.Load(model, dir));
        Assert.Equal($"{path}: {extra}: is not explained by adapter_config.json (target_modules q_proj,v_proj, 2 layers)", e.Message);
        // the untouched adapter still loads
        using var again = SavedAdapter(tmp.Path + "2").Model;
    }

    // ---- GGUF ----

    private static int IndexOf(byte[] hay, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= hay.Length; i++)
            if (hay.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
        return -1;
    }

    [Fact]
    public void A_non_utf8_token_in_a_gguf_vocabulary_is_refused_naming_its_index()
    {
        using var tmp = new TempDir();
        var bytes = File.ReadAllBytes(SharedData.Require("gguf/ggml-vocab-llama-spm.gguf"));
        var unk = new byte[] { 5, 0, 0, 0, 0, 0, 0, 0 }.Concat("<unk>"u8.ToArray()).ToArray();
        int at = IndexOf(bytes, unk);
        Assert.True(at > 0);
        bytes[at + 8 + 1] = 0xFF; // "<\xFFnk>"
        var path = tmp.File("bad-vocab.gguf");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<FileFormatException>(() => GgufFile.Open(path).Dispose());
        Assert.Equal($"{path}: metadata 'tokenizer.ggml.tokens'[0]: the 5-byte string at offset {at + 8} is not valid UTF-8", e.Message);
    }

    [Fact]
    public void A_gguf_context_length_that_overflows_an_int_is_refused_naming_the_key()
    {
        using var tmp = new TempDir();
        var bytes = File.ReadAllBytes(SharedData.Require("gguf/llama-2-tiny-random.gguf"));
        var key = Encoding.UTF8.GetBytes("llama.context_length");
        int at = IndexOf(bytes, key);
        Assert.True(at > 0);
        int type = BitConverter.ToInt32(bytes, at + key.Length);
        Assert.Equal(4, type); // uint32
        BitConverter.GetBytes(uint.MaxValue).CopyTo(bytes, at + key.Length + 4);
        var path = tmp.File("ctx.gguf");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<FileFormatException>(() => ModelLoader.Load(path, CpuBackend.Instance, new WeightOptions()));
        Assert.Equal($"{path}: metadata 'llama.context_length': is 4294967295; expected at most 2147483647", e.Message);
        var (exit, _, err) = CliHarness.Run("info", "--model", path);
        Assert.Equal(1, exit);
        Assert.Equal($"error: {e.Message}", err.Trim());
    }
}
