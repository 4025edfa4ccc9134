using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>trainer_state.json goes through a source-generated serializer (NativeAOT has no reflection JSON): it must
/// write the bytes the reflection serializer wrote and read checkpoints written before.</summary>
public class TrainerStateJsonTests
{
    // What the reflection-based JsonSerializer (WriteIndented) wrote for this state, byte for byte.
    private const string Written =
        "{\n  \"global_step\": 12,\n  \"total_steps\": 40,\n  \"epoch\": 0.3,\n  \"data_position\": \"0:12\",\n" +
        "  \"data_fingerprint\": \"abc123\",\n  \"mode\": \"lora\",\n  \"seed\": 42,\n  \"rng_state\": [\n    1,\n" +
        "    18446744073709551615\n  ],\n  \"engine_version\": \"0.1\",\n  \"Position\": {\n    \"Epoch\": 0,\n    \"Batch\": 12\n  }\n}";

    private static TrainerState Sample() => new()
    {
        GlobalStep = 12, TotalSteps = 40, Epoch = 0.3, DataPosition = "0:12", DataFingerprint = "abc123", Mode = "lora",
        Seed = 42, RngState = new ulong[] { 1, ulong.MaxValue },
    };

    [Fact]
    public void Writes_the_same_bytes_as_the_reflection_serializer()
    {
        Assert.Equal(Written.Replace("\n", Environment.NewLine), Sample().ToJson());
    }

    [Fact]
    public void Reads_a_state_written_before()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("trainer_state.json"), Written);
        var s = TrainerState.Read(tmp.File("trainer_state.json"));
        Assert.Equal(Sample() with { RngState = s.RngState }, s);
        Assert.Equal(new ulong[] { 1, ulong.MaxValue }, s.RngState);
        Assert.Equal(new Engine.Data.LoaderPosition(0, 12), s.Position);
    }

    [Fact]
    public void A_file_that_is_not_a_state_is_a_format_error()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("trainer_state.json"), "{\"global_step\": \"twelve\"}");
        Assert.ThrowsAny<EngineException>(() => TrainerState.Read(tmp.File("trainer_state.json")));
    }
}
