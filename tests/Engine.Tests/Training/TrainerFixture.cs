using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Models;
using Engine.Tensors;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>A small self-contained training setup: the demo vocabulary and conversations with a reduced demo model.</summary>
internal static class TrainerFixture
{
    public static LlamaConfig SmallConfig(int vocab) => Demo.Config(vocab) with { NumLayers = 2, HiddenSize = 32, HeadDim = 8, IntermediateSize = 64 };

    public static (LlamaModel Model, PreparedData Data) Create(string dir, TrainMode mode, int batch = 4, Func<string, bool>? trainable = null, int samples = 24)
    {
        var cfg = SmallConfig(Demo.Tokenizer().VocabSize);
        var weights = new WeightOptions { Trainable = mode is TrainMode.Full ? _ => true : trainable };
        var model = new LlamaModel(cfg, CpuBackend.Instance, LlamaWeights.Random(cfg, CpuBackend.Instance, 5, weights, 0.02, 0.15));
        return (model, Data(dir, batch, samples));
    }

    /// <summary>The first <paramref name="samples"/> demo conversations, prepared for training.</summary>
    public static PreparedData Data(string dir, int batch = 4, int samples = 24, int maxLength = 128)
    {
        var tok = Demo.Tokenizer();
        var all = DataReader.Read(Demo.WriteSampleData(dir));
        var path = Path.Combine(dir, "subset.json");
        // the first samples only, to keep runs short
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(all.Path))!.AsArray();
        while (json.Count > samples) json.RemoveAt(json.Count - 1);
        File.WriteAllText(path, json.ToJsonString());
        return TrainingData.Prepare(new DataOptions { DataPath = path, MaxLength = maxLength, BatchSize = batch, Seed = 3 }, tok);
    }
}
