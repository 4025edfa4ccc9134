using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Tests.Support;

namespace Engine.Tests.Integration;

/// <summary>Bad input gives one clear error naming the file and the problem (the format readers' own byte-level cases
/// live in Formats/; these go through the model loader and the CLI).</summary>
public class BadInputTests
{
    [Fact]
    public void Config_missing_a_field_names_it()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("config.json"), """{"model_type":"llama","hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":32}""");
        var e = Assert.Throws<FileFormatException>(() => ModelLoader.Load(tmp.Path, CpuBackend.Instance, new WeightOptions()));
        Assert.Contains("config.json", e.Message);
        Assert.Contains("intermediate_size", e.Message);
    }

    [Fact]
    public void Tokenizer_that_does_not_match_the_vocabulary_is_refused()
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        File.Copy(SharedData.Require("llama2-tokenizer/tokenizer.model"), Path.Combine(dir, "tokenizer.model"), overwrite: true);
        var e = Assert.Throws<FileFormatException>(() => ModelLoader.Load(dir, CpuBackend.Instance, new WeightOptions()));
        Assert.Contains("tokenizer.model", e.Message);
        Assert.Contains("32000", e.Message);
        Assert.Contains("512", e.Message);
    }

    [Fact]
    public void Shape_mismatch_between_config_and_checkpoint_names_the_tensor()
    {
        using var tmp = new TempDir();
        var dir = HfFixture.Stories260K(tmp.Path);
        var cfg = File.ReadAllText(Path.Combine(dir, "config.json")).Replace("\"intermediate_size\": 172", "\"intermediate_size\": 176");
        File.WriteAllText(Path.Combine(dir, "config.json"), cfg);
        var e = Assert.Throws<FileFormatException>(() => ModelLoader.Load(dir, CpuBackend.Instance, new WeightOptions()));
        Assert.Contains("gate_proj", e.Message);
        Assert.Contains("172", e.Message);
    }

    [Fact]
    public void Cli_prints_one_line_and_exits_non_zero_on_a_truncated_checkpoint()
    {
        using var tmp = new TempDir();
        var bytes = File.ReadAllBytes(SharedData.Require("stories260K/stories260K.bin"));
        var path = tmp.File("cut.bin");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var (exit, _, err) = CliHarness.Run("info", "--model", path);
        Assert.NotEqual(0, exit);
        var lines = err.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains("cut.bin", lines[0]);
    }

    [Fact]
    public void Cli_rejects_cuda_cleanly_without_a_gpu()
    {
        if (Engine.Backends.Cuda.CudaProbe.WhyUnusable() is null) Assert.Skip("a CUDA GPU is present; this test checks the no-GPU message");
        var (exit, _, err) = CliHarness.Run("generate", "--model", SharedData.Require("stories260K/stories260K.bin"), "--device", "cuda", "--max-new-tokens", "1");
        Assert.NotEqual(0, exit);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("cuda", err, StringComparison.OrdinalIgnoreCase);
    }
}
