using System.Text;
using System.Text.Json.Nodes;
using Engine.Api;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Models;
using Engine.Tensors;
using Engine.Tests.Support;
using Engine.Tokenizers;
using Engine.Training;

namespace Engine.Tests.Fuzz;

/// <summary>One parser under fuzz: a folder of valid files (<see cref="SeedDir"/>), the one file in it that gets
/// mutated, and the entry point users hit (run on a copy of the folder). <see cref="NamesFolder"/>: an error may name
/// the folder (or any file in it) rather than the mutated file, as a model or adapter folder is one input.</summary>
internal sealed record FuzzTarget(string Name, string SeedDir, string File, bool Json, bool NamesFolder, Action<string> Run, int Weight = 4)
{
    public string SeedFile => Path.Combine(SeedDir, File);
}

/// <summary>The seed files, built once per test run from the real assets in shared/data (and files the library writes
/// from them), and the targets that fuzz them.</summary>
internal static class FuzzTargets
{
    private static readonly Lazy<(string Root, FuzzTarget[] Targets)> Built = new(Build);

    public static string[] Names =>
    [
        "safetensors", "safetensors-index", "config-json", "nf4-safetensors", "nf4-config",
        "gguf", "gguf-written", "gguf-vocab", "llama2c", "llama2c-q8", "tokenizer-model", "tokenizer-bin",
        "data-alpaca", "data-sharegpt", "data-jsonl", "data-messages", "data-csv", "data-text",
        "adapter-config", "adapter-weights", "trainer-state",
    ];

    public static FuzzTarget Get(string name)
    {
        SharedData.Require("stories260K/stories260K.bin");
        SharedData.Require("gguf/llama-2-tiny-random.gguf");
        SharedData.Require("datasets/alpaca_data_cleaned_1000.json");
        return Built.Value.Targets.Single(t => t.Name == name);
    }

    public static string WorkRoot => Path.Combine(Built.Value.Root, "work");

    private static string Shared(string rel) => SharedData.Require(rel);

    private static (string, FuzzTarget[]) Build()
    {
        var root = Path.Combine(Path.GetTempPath(), "engine-fuzz-" + Guid.NewGuid().ToString("N")[..10]);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(root, true); } catch (IOException) { } catch (UnauthorizedAccessException) { } };
        string Dir(string name) { var d = Path.Combine(root, "seeds", name); Directory.CreateDirectory(d); return d; }
        string stories = Shared("stories260K/stories260K.bin"), tok = Shared("stories260K/tok512.model");

        // Model folders written by the library from the real stories260K checkpoint.
        var hf = Dir("hf");
        var sharded = Dir("hf-sharded");
        using (var m = ModelLoader.Load(stories, CpuBackend.Instance, new WeightOptions()))
        {
            HfModelWriter.Save(m.Model, hf, DType.F32, tok);
            HfModelWriter.Save(m.Model, sharded, DType.F32, tok, shardBytes: 300_000);
        }
        var nf4 = Dir("nf4");
        ModelFiles.Quantize(hf, nf4);
        var gguf = Dir("gguf");
        System.IO.File.Copy(Shared("gguf/llama-2-tiny-random.gguf"), Path.Combine(gguf, "model.gguf"));
        var ggufWritten = Dir("gguf-written");
        ModelFiles.ExportGguf(hf, Path.Combine(ggufWritten, "model.gguf"));
        var vocab = Dir("gguf-vocab");
        System.IO.File.Copy(Shared("gguf/ggml-vocab-llama-spm.gguf"), Path.Combine(vocab, "vocab.gguf"));
        var l2c = Dir("llama2c");
        System.IO.File.Copy(stories, Path.Combine(l2c, "stories260K.bin"));
        System.IO.File.Copy(tok, Path.Combine(l2c, "tok512.model"));
        var l2cq = Dir("llama2c-q8");
        System.IO.File.Copy(Shared("stories260K/stories260K_q8_v2.bin"), Path.Combine(l2cq, "stories260K_q8_v2.bin"));
        System.IO.File.Copy(tok, Path.Combine(l2cq, "tok512.model"));
        var tokm = Dir("tokenizer-model");
        System.IO.File.Copy(tok, Path.Combine(tokm, "tok512.model"));
        var tokb = Dir("tokenizer-bin");
        System.IO.File.Copy(Shared("stories260K/tok512.bin"), Path.Combine(tokb, "tok512.bin"));

        // Data: small slices of the real datasets in every layout the reader detects.
        var alpaca = (JsonArray)JsonNode.Parse(System.IO.File.ReadAllText(Shared("datasets/alpaca_data_cleaned_1000.json")))!;
        var alpacaSlice = new JsonArray(alpaca.Take(12).Select(n => n!.DeepClone()).ToArray());
        var dAlpaca = Dir("data-alpaca");
        System.IO.File.WriteAllText(Path.Combine(dAlpaca, "alpaca.json"), alpacaSlice.ToJsonString());
        var dJsonl = Dir("data-jsonl");
        System.IO.File.WriteAllText(Path.Combine(dJsonl, "alpaca.jsonl"), string.Join("\n", alpacaSlice.Select(n => n!.ToJsonString())) + "\n");
        var share = (JsonArray)JsonNode.Parse(System.IO.File.ReadAllText(Shared("datasets/fastchat_dummy_conversation_with_system.json")))!;
        var shareSlice = new JsonArray(share.Take(3).Select(n => n!.DeepClone()).ToArray());
        var dShare = Dir("data-sharegpt");
        System.IO.File.WriteAllText(Path.Combine(dShare, "sharegpt.json"), shareSlice.ToJsonString());
        var dMessages = Dir("data-messages");
        var messages = shareSlice.Select(c => new JsonObject
        {
            ["messages"] = new JsonArray(((JsonArray)c!["conversations"]!).Select(t => (JsonNode)new JsonObject
            {
                ["role"] = t!["from"]!.GetValue<string>() switch { "human" => "user", "gpt" => "assistant", var r => r },
                ["content"] = t["value"]!.DeepClone(),
            }).ToArray()),
        }.ToJsonString());
        System.IO.File.WriteAllText(Path.Combine(dMessages, "messages.jsonl"), string.Join("\n", messages) + "\n");
        var stories8 = System.IO.File.ReadAllText(Shared("datasets/tinystories_sample_cs336.txt"));
        var dText = Dir("data-text");
        System.IO.File.WriteAllText(Path.Combine(dText, "stories.txt"), stories8);
        var dCsv = Dir("data-csv");
        var csv = new StringBuilder("id,text\n");
        int row = 0;
        foreach (var para in stories8.Split("<|endoftext|>", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            csv.Append(row++).Append(",\"").Append(para.Replace("\"", "\"\"")).Append("\"\n");
        System.IO.File.WriteAllText(Path.Combine(dCsv, "stories.csv"), csv.ToString());

        // A PEFT adapter on the stories model (random B so the weights are not all zero).
        var adapter = Dir("adapter");
        using (var m = ModelLoader.Load(stories, CpuBackend.Instance, new WeightOptions()))
        {
            var a = LoraAdapter.Inject(m.Model, new LoraOptions { R = 4, Alpha = 8, Targets = ["q_proj", "v_proj", "down_proj"] });
            PeftAdapterIO.Save(a, adapter, "stories260K");
        }

        var state = Dir("trainer-state");
        System.IO.File.WriteAllText(Path.Combine(state, "trainer_state.json"), new TrainerState
        {
            GlobalStep = 40, TotalSteps = 100, Epoch = 0.4, DataPosition = "0:40", DataFingerprint = "sha256:0123abcd",
            Mode = "lora", Seed = 42, RngState = [1, 2, 3, 4],
        }.ToJson());

        static void LoadModel(string path)
        {
            using var m = ModelLoader.Load(path, CpuBackend.Instance, new WeightOptions());
        }
        static void ReadData(string path) => _ = DataReader.Read(path);
        void LoadAdapter(string dir)
        {
            using var m = ModelLoader.Load(Path.Combine(l2c, "stories260K.bin"), CpuBackend.Instance, new WeightOptions());
            _ = PeftAdapterIO.Load(m.Model, dir);
        }

        FuzzTarget[] targets =
        [
            new("safetensors", hf, "model.safetensors", false, true, LoadModel),
            new("safetensors-index", sharded, "model.safetensors.index.json", true, true, LoadModel),
            new("config-json", hf, "config.json", true, true, LoadModel),
            new("nf4-safetensors", nf4, "model.safetensors", false, true, LoadModel),
            new("nf4-config", nf4, "config.json", true, true, LoadModel),
            new("gguf", gguf, "model.gguf", false, false, d => LoadModel(Path.Combine(d, "model.gguf"))),
            new("gguf-written", ggufWritten, "model.gguf", false, false, d => LoadModel(Path.Combine(d, "model.gguf"))),
            new("gguf-vocab", vocab, "vocab.gguf", false, false, d => _ = ModelLoader.OpenTokenizer(Path.Combine(d, "vocab.gguf")), Weight: 2),
            new("llama2c", l2c, "stories260K.bin", false, false, d => LoadModel(Path.Combine(d, "stories260K.bin"))),
            new("llama2c-q8", l2cq, "stories260K_q8_v2.bin", false, false, d => LoadModel(Path.Combine(d, "stories260K_q8_v2.bin"))),
            new("tokenizer-model", tokm, "tok512.model", false, false, d => _ = TokenizerLoader.Load(Path.Combine(d, "tok512.model"))),
            new("tokenizer-bin", tokb, "tok512.bin", false, false, d => _ = TokenizerLoader.Load(Path.Combine(d, "tok512.bin"))),
            new("data-alpaca", dAlpaca, "alpaca.json", true, false, d => ReadData(Path.Combine(d, "alpaca.json"))),
            new("data-sharegpt", dShare, "sharegpt.json", true, false, d => ReadData(Path.Combine(d, "sharegpt.json"))),
            new("data-jsonl", dJsonl, "alpaca.jsonl", true, false, d => ReadData(Path.Combine(d, "alpaca.jsonl"))),
            new("data-messages", dMessages, "messages.jsonl", true, false, d => ReadData(Path.Combine(d, "messages.jsonl"))),
            new("data-csv", dCsv, "stories.csv", false, false, d => ReadData(Path.Combine(d, "stories.csv"))),
            new("data-text", dText, "stories.txt", false, false, d => ReadData(Path.Combine(d, "stories.txt"))),
            new("adapter-config", adapter, "adapter_config.json", true, true, LoadAdapter),
            new("adapter-weights", adapter, "adapter_model.safetensors", false, true, LoadAdapter),
            new("trainer-state", state, "trainer_state.json", true, false, d => _ = TrainerState.Read(Path.Combine(d, "trainer_state.json")).Position),
        ];
        return (root, targets);
    }
}
