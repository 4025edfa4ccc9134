using Engine.Data;
using Engine.Models;

namespace Engine.Training;

/// <summary>Everything <c>engine train</c> was asked for: the model, the data flags, the mode's settings and the
/// loop's. The batch size and seed live in <see cref="Loop"/> only; the job hands them to the data layer.</summary>
internal sealed record TrainJobOptions
{
    /// <summary>Null runs the built-in demo (a small seeded Llama and the sample conversations shipped with engine).</summary>
    public string? ModelPath { get; init; }
    public string? TokenizerPath { get; init; }
    /// <summary>The data flags; a null <see cref="DataOptions.DataPath"/> is allowed only with the demo.</summary>
    public DataOptions Data { get; init; } = new();
    /// <summary>--trainable for sft: "last:N", "first:N" or module patterns.</summary>
    public string? Trainable { get; init; }
    public LoraOptions Lora { get; init; } = new();
    public bool DoubleQuant { get; init; } = true;
    /// <summary>--resume: "latest" or a checkpoint folder.</summary>
    public string? Resume { get; init; }
    /// <summary>--overwrite-output-dir: a new run may replace another run's outputs in the output folder.</summary>
    public bool OverwriteOutputDir { get; init; }
    /// <summary>dtype of saved full/SFT models: f32, bf16 or f16.</summary>
    public string SaveDType { get; init; } = "f32";
    public required TrainOptions Loop { get; init; }

    /// <summary>The data flags as the data layer takes them, with the loop's batch size and seed, and the model's
    /// own chat template (looked up only when used). With <paramref name="worldSize"/> data-parallel ranks a loader
    /// batch is the global micro-batch, batch size × world size rows, which the ranks split.</summary>
    public DataOptions DataFor(string dataPath, int maxPositions, int worldSize = 1) => Data with
    {
        DataPath = dataPath, MaxLength = Math.Min(Data.MaxLength, maxPositions), BatchSize = Loop.BatchSize * worldSize, Seed = Loop.Seed,
        ModelTemplate = Data.ModelTemplate ?? (ModelPath is null ? null : () => JinjaChatTemplate.ForModel(ModelPath, TokenizerPath)),
    };
}
