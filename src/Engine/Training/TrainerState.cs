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

    public LoaderPosition Position => LoaderPosition.Parse(DataPosition);

    public string ToJson() => JsonSerializer.Serialize(this, TrainerStateJson.Default.TrainerState);

    public static TrainerState Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), TrainerStateJson.Default.TrainerState)
                   ?? throw new FileFormatException(path, "JSON", "empty trainer state");
        }
        catch (JsonException e)
        {
            throw new FileFormatException(path, "JSON", $"not a valid trainer state ({e.Message})");
        }
    }
}

/// <summary>Source-generated (reflection-free, NativeAOT-safe) serializer for <see cref="TrainerState"/>. It writes the
/// same bytes the reflection serializer wrote before, the derived <c>Position</c> object included, so older checkpoints
/// load and new ones read the same.</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(TrainerState))]
internal sealed partial class TrainerStateJson : JsonSerializerContext;
