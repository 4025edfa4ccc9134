using System.Text.Json;
using System.Text.Json.Serialization;
using Engine.Data;

namespace Engine.Training;

/// <summary>The scalar part of a checkpoint (trainer_state.json): where training stands, so resume continues exactly.</summary>
public sealed record TrainerState
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

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public static TrainerState Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), Options)
                   ?? throw new FileFormatException(path, "JSON", "empty trainer state");
        }
        catch (JsonException e)
        {
            throw new FileFormatException(path, "JSON", $"not a valid trainer state ({e.Message})");
        }
    }
}
