using Engine.Api;
using Engine.Tests.Integration;
using Engine.Tests.Support;

namespace Engine.Tests.Api;

/// <summary>Every numeric option is range-checked in its options record, before anything is loaded or written, with
/// one message naming the flag and the allowed range; the CLI prints the same message.</summary>
public class OptionValidationTests
{
    public static TheoryData<string, string> BadFineTuneOptions => new()
    {
        { "lr-nan", "--learning-rate must be a finite number > 0 (fine-tuning uses about 1e-5 to 1e-3), got NaN" },
        { "lr-inf", "--learning-rate must be a finite number > 0 (fine-tuning uses about 1e-5 to 1e-3), got Infinity" },
        { "lr-neg", "--learning-rate must be a finite number > 0 (fine-tuning uses about 1e-5 to 1e-3), got -1" },
        { "epochs-0", "--num-epochs must be >= 1, got 0" },
        { "max-steps-0", "--max-steps must be >= 1 (or -1 to follow --num-epochs), got 0" },
        { "warmup-steps", "--warmup-steps must be >= 0, got -1" },
        { "warmup-ratio", "--warmup-ratio must be in [0, 1), got -0.1" },
        { "warmup-ratio-1", "--warmup-ratio must be in [0, 1), got 1" },
        { "weight-decay", "--weight-decay must be a finite number >= 0, got -0.5" },
        { "lora-alpha", "--lora-alpha must be a finite number > 0 (the update is scaled by alpha / r), got 0" },
        { "lora-r", "--lora-r must be >= 1, got 0" },
        { "lora-dropout", "--lora-dropout must be in [0, 1), got 1.5" },
        { "max-grad-norm", "--max-grad-norm must be a finite number >= 0 (0 = no clipping), got -1" },
        { "save-steps", "--save-steps must be >= 0 (0 = only when interrupted), got -5" },
        { "save-total-limit", "--save-total-limit must be >= 0 (0 = keep all), got -1" },
        { "eval-steps", "--eval-steps must be >= 0 (0 = at the end), got -1" },
        { "eval-split", "--eval-split must be in [0, 1) (0 = no split), got 1" },
        { "batch-size", "--batch-size must be positive, got 0" },
        { "grad-accum", "--grad-accum must be positive, got -1" },
        { "max-length", "--max-length must be positive, got 0" },
        { "logging-steps", "--logging-steps must be positive, got 0" },
        { "save-dtype", "--save-dtype: expected f32, bf16 or f16, got \"f8\"" },
        { "zero-2", "--zero: expected 0 (off) or 1 (AdamW moments sharded across the data-parallel ranks), got 2" },
        { "zero-neg", "--zero: expected 0 (off) or 1 (AdamW moments sharded across the data-parallel ranks), got -1" },
    };

    private static FineTuneOptions Bad(string kind, string outDir)
    {
        var o = new FineTuneOptions { Device = "cpu", OutputDir = outDir };
        return kind switch
        {
            "lr-nan" => o with { LearningRate = float.NaN },
            "lr-inf" => o with { LearningRate = float.PositiveInfinity },
            "lr-neg" => o with { LearningRate = -1 },
            "epochs-0" => o with { NumEpochs = 0 },
            "max-steps-0" => o with { MaxSteps = 0 },
            "warmup-steps" => o with { WarmupSteps = -1 },
            "warmup-ratio" => o with { WarmupRatio = -0.1 },
            "warmup-ratio-1" => o with { WarmupRatio = 1 },
            "weight-decay" => o with { WeightDecay = -0.5f },
            "lora-alpha" => o with { LoraAlpha = 0 },
            "lora-r" => o with { LoraR = 0 },
            "lora-dropout" => o with { LoraDropout = 1.5f },
            "max-grad-norm" => o with { MaxGradNorm = -1 },
            "save-steps" => o with { SaveSteps = -5 },
            "save-total-limit" => o with { SaveTotalLimit = -1 },
            "eval-steps" => o with { EvalSteps = -1 },
            "eval-split" => o with { EvalSplit = 1 },
            "batch-size" => o with { BatchSize = 0 },
            "grad-accum" => o with { GradAccum = -1 },
            "max-length" => o with { MaxLength = 0 },
            "logging-steps" => o with { LoggingSteps = 0 },
            "save-dtype" => o with { SaveDType = "f8" },
            "zero-2" => o with { ZeroStage = 2 },
            "zero-neg" => o with { ZeroStage = -1 },
            _ => throw new ArgumentException(kind),
        };
    }

    [Theory]
    [MemberData(nameof(BadFineTuneOptions))]
    public void A_bad_fine_tune_option_is_refused_by_name_before_anything_is_written(string kind, string message)
    {
        using var tmp = new TempDir();
        var outDir = Path.Combine(tmp.Path, "run");
        var e = Assert.Throws<EngineException>(() => FineTuning.Run(Bad(kind, outDir), cancel: TestContext.Current.CancellationToken));
        Assert.Equal(message, e.Message);
        Assert.False(Directory.Exists(outDir), "the output folder was created before validation");
    }

    [Theory]
    [InlineData("--learning-rate", "NaN", "--learning-rate must be a finite number > 0 (fine-tuning uses about 1e-5 to 1e-3), got NaN")]
    [InlineData("--learning-rate", "1e300", "--learning-rate must be a finite number > 0 (fine-tuning uses about 1e-5 to 1e-3), got Infinity")]
    [InlineData("--lora-dropout", "1.5", "--lora-dropout must be in [0, 1), got 1.5")]
    [InlineData("--num-epochs", "0", "--num-epochs must be >= 1, got 0")]
    [InlineData("--max-grad-norm", "-1", "--max-grad-norm must be a finite number >= 0 (0 = no clipping), got -1")]
    [InlineData("--zero", "3", "--zero: expected 0 (off) or 1 (AdamW moments sharded across the data-parallel ranks), got 3")]
    public void The_cli_prints_the_same_message_and_writes_nothing(string flag, string value, string message)
    {
        using var tmp = new TempDir();
        var outDir = Path.Combine(tmp.Path, "run");
        var (exit, _, err) = CliHarness.Run("train", "--device", "cpu", "--out", outDir, flag, value);
        Assert.Equal(1, exit);
        Assert.Equal($"error: {message}", err.Trim());
        Assert.False(Directory.Exists(outDir));
    }

    [Theory]
    [InlineData(-5, 0.8f, 40, 0.95f, "--max-new-tokens must be >= 0, got -5")]
    [InlineData(8, -0.1f, 40, 0.95f, "--temperature must be a finite number >= 0 (0 = greedy), got -0.1")]
    [InlineData(8, float.NaN, 40, 0.95f, "--temperature must be a finite number >= 0 (0 = greedy), got NaN")]
    [InlineData(8, 0.8f, -1, 0.95f, "--top-k must be >= 0 (0 = all tokens), got -1")]
    [InlineData(8, 0.8f, 40, 0f, "--top-p must be in (0, 1] (1 = off), got 0")]
    [InlineData(8, 0.8f, 40, 1.5f, "--top-p must be in (0, 1] (1 = off), got 1.5")]
    [InlineData(8, 0.8f, 40, float.NaN, "--top-p must be in (0, 1] (1 = off), got NaN")]
    public void A_bad_generation_option_is_refused_by_name(int maxNew, float temperature, int topK, float topP, string message)
    {
        using var m = EngineModel.Demo(new ModelOptions { Device = "cpu" });
        var g = new GenerationOptions { MaxNewTokens = maxNew, Temperature = temperature, TopK = topK, TopP = topP };
        Assert.Equal(message, Assert.Throws<EngineException>(() => m.Generate("USER: Hi", g)).Message);
    }

    [Fact]
    public void Generate_on_the_cli_gives_the_same_message()
    {
        var (exit, _, err) = CliHarness.Run("generate", "--model", SharedData.Require("stories260K/stories260K.bin"), "--device", "cpu",
            "--max-new-tokens", "-5");
        Assert.Equal(1, exit);
        Assert.Equal("error: --max-new-tokens must be >= 0, got -5", err.Trim());
    }

    [Theory]
    [InlineData("q4_0", "error: --kv-cache: expected auto, f32, f16 or q8_0; got 'q4_0'")]
    [InlineData("q8_0", "error: --kv-cache q8_0 stores each head's keys and values in blocks of 32 values; this model's head dim is 8, not a multiple of 32 (use --kv-cache f16 or f32)")]
    public void Generate_on_the_cli_names_a_kv_cache_it_cannot_use(string type, string message)
    {
        var (exit, _, err) = CliHarness.Run("generate", "--model", SharedData.Require("stories260K/stories260K.bin"), "--device", "cpu",
            "--max-new-tokens", "2", "--kv-cache", type);
        Assert.Equal(1, exit);
        Assert.Equal(message, err.Trim());
    }

    [Fact]
    public void Export_and_preview_options_are_checked_before_the_model_is_read()
    {
        using var tmp = new TempDir();
        var missing = Path.Combine(tmp.Path, "no-model");
        var e = Assert.Throws<EngineException>(() => ModelFiles.ExportGguf(missing, tmp.File("x.gguf"), new GgufExportOptions { Type = "q9_9" }));
        Assert.StartsWith("--type q9_9: unknown type; choose one of ", e.Message);
        var p = Assert.Throws<EngineException>(() => DataPreviewer.Render(tmp.File("none.json"), new DataPreviewOptions { Tokenizer = missing, Samples = 0 }, json: false));
        Assert.Equal("--samples must be positive, got 0", p.Message);
    }
}
