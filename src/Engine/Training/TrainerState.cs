using System.Text.Json;
using System.Text.Json.Serialization;
using Engine.Data;

namespace Engine.Training;

/// <summary>The scalar part of a checkpoint (trainer_state.json): where training stands, so resume continues exactly.</summary>
internal sealed record TrainerState
{
    [JsonPropertyName("global_step")] public int GlobalStep { get; init; }
    [JsonPropertyName("total_steps")] public int TotalSteps { get; init; }
    [JsonPropertyName("epoch")] public double Epoch { get; init; }
    [JsonPropertyName("data_position")] public string DataPosition { get; init; } = "0:0";
    [JsonPropertyName("data_fingerprint")] public string DataFingerprint { get; init; } = "";
    [JsonPropertyName("mode")] public string Mode { get; init; } = "";
    [JsonPropertyName("seed")] public ulong Seed { get; init; }
    [JsonPropertyName("rng_state")] public ulong[] RngState { get; init; } = Array.Empty<ulong>();
    [JsonPropertyName("engine_version")] public string EngineVersion { get; init; } = "0.1";
    /// <summary>The loss of the step that ended at <see cref="GlobalStep"/> (NaN when none ran), so a run resumed at its
    /// last step still reports it.</summary>
    [JsonPropertyName("loss"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? Loss { get; init; }
    /// <summary>What makes a run the same run (see <see cref="RunIdentity"/>): resume refuses a checkpoint whose
    /// identity differs. Absent in checkpoints written before it existed.</summary>
    [JsonPropertyName("run"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public Dictionary<string, string>? Run { get; init; }

    public LoaderPosition Position => LoaderPosition.Parse(DataPosition);

    public string ToJson() => JsonSerializer.Serialize(this, TrainerStateJson.Default.TrainerState);

    public static TrainerState Read(string path)
    {
        try
        {
            var state = JsonSerializer.Deserialize(File.ReadAllText(path), TrainerStateJson.Default.TrainerState)
                        ?? throw new FileFormatException(path, "JSON", "empty trainer state");
            return state.Validate(path);
        }
        catch (JsonException e)
        {
            throw new FileFormatException(path, "JSON", $"not a valid trainer state ({e.Message})");
        }
    }

    /// <summary>The fields resume relies on, each checked and named: JSON null for a string or array field, a
    /// data_position that does not parse, or a count out of range is a file error (not a NullReferenceException or a
    /// wrong resume later).</summary>
    private TrainerState Validate(string path)
    {
        if (DataPosition is null) throw new FileFormatException(path, "data_position", "missing; expected \"epoch:batch\"");
        try { _ = Position; }
        catch (EngineException e) { throw new FileFormatException(path, "data_position", e.Message); }
        if (DataFingerprint is null) throw new FileFormatException(path, "data_fingerprint", "is null; expected a string");
        if (Mode is null) throw new FileFormatException(path, "mode", "is null; expected a string");
        if (RngState is null) throw new FileFormatException(path, "rng_state", "is null; expected an array of integers");
        if (EngineVersion is null) throw new FileFormatException(path, "engine_version", "is null; expected a string");
        if (TotalSteps < 1) throw new FileFormatException(path, "total_steps", $"must be at least 1, got {TotalSteps}");
        if (GlobalStep < 0 || GlobalStep > TotalSteps)
            throw new FileFormatException(path, "global_step", $"must be between 0 and total_steps ({TotalSteps}), got {GlobalStep}");
        if (!double.IsFinite(Epoch) || Epoch < 0) throw new FileFormatException(path, "epoch", $"must be a finite number at least 0, got {Epoch}");
        return this;
    }
}

/// <summary>Source-generated (reflection-free, NativeAOT-safe) serializer for <see cref="TrainerState"/>. It writes the
/// same bytes the reflection serializer wrote before, the derived <c>Position</c> object included, so older checkpoints
/// load and new ones read the same.</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(TrainerState))]
internal sealed partial class TrainerStateJson : JsonSerializerContext;
