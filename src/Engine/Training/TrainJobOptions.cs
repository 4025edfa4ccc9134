using Engine.Data;
using Engine.Models;

namespace Engine.Training;

/// <summary>Everything <c>engine train</c> was asked for: the model and data, the mode's settings and the loop's.</summary>
public sealed record TrainJobOptions
{
    /// <summary>Null runs the built-in demo (a small seeded Llama and the sample conversations shipped with engine).</summary>
    public string? ModelPath { get; init; }
    public string? TokenizerPath { get; init; }
    /// <summary>Null with the demo; required otherwise.</summary>
    public string? DataPath { get; init; }
    public string? EvalDataPath { get; init; }
    public double EvalSplit { get; init; }
    public string? Template { get; init; }
    public int MaxLength { get; init; } = 2048;
    public bool TrainOnInputs { get; init; }
    public bool Packing { get; init; }
    public bool GroupByLength { get; init; }
    /// <summary>--trainable for sft: "last:N", "first:N" or module patterns.</summary>
    public string? Trainable { get; init; }
    public LoraOptions Lora { get; init; } = new();
    public bool DoubleQuant { get; init; } = true;
    /// <summary>--resume: "latest" or a checkpoint folder.</summary>
    public string? Resume { get; init; }
    /// <summary>dtype of saved full/SFT models: f32, bf16 or f16.</summary>
    public string SaveDType { get; init; } = "f32";
    public required TrainOptions Loop { get; init; }

    public DataOptions DataOptions(string dataPath) => new()
    {
        DataPath = dataPath,
        EvalDataPath = EvalDataPath,
        EvalSplit = EvalSplit,
        Template = Template,
        MaxLength = MaxLength,
        TrainOnInputs = TrainOnInputs,
        Packing = Packing,
        GroupByLength = GroupByLength,
        BatchSize = Loop.BatchSize,
        Seed = Loop.Seed,
    };
}
