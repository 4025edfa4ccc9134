using System.Text.Json.Nodes;
using Engine.Tests.Integration;
using Engine.Tests.Support;
using Engine.Training;
using Engine.Training.Metrics;

namespace Engine.Tests.Training;

/// <summary>Issue 11, class 4: a run never takes or damages another run's work. A new run into a folder holding
/// another run's outputs is refused (unless --overwrite-output-dir), --resume latest resumes only the same run,
/// nothing in the folder changes before validation passes, and a run resumed at its last step reports the
/// checkpoint's loss.</summary>
public class RunIdentityTests
{
    private static string[] Train(string dir, string lr, params string[] extra) =>
        ["train", "--mode", "lora", "--out", dir, "--device", "cpu", "--max-steps", "40", "--save-steps", "10", "--logging-steps", "10",
         "--learning-rate", lr, .. extra];

    [Fact]
    public void Another_run_in_the_same_folder_is_refused_and_resume_takes_only_the_same_run()
    {
        using var tmp = new TempDir();
        var run = tmp.File("run");
        var (exit, output, err) = CliHarness.Run(Train(run, "0.0002"));
        Assert.True(exit == 0, err);
        Assert.Equal([10, 20, 30, 40], CheckpointStore.List(run).Select(c => c.Step));
        var args = File.ReadAllBytes(Path.Combine(run, "training_args.json"));
        var adapter = File.ReadAllBytes(Path.Combine(run, "adapter_model.safetensors"));
        var metrics = File.ReadAllBytes(Path.Combine(run, "metrics.jsonl"));
        double finalLoss = ((JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "checkpoint-40", "trainer_state.json")))!)["loss"]!.GetValue<double>();
        Assert.Contains($"final loss {finalLoss:F4}", output);

        // A different run (another learning rate) into the same folder: refused, nothing touched.
        (exit, _, err) = CliHarness.Run(Train(run, "0.001"));
        Assert.Equal(1, exit);
        Assert.Contains($"error: --out {run}: holds another run's outputs (training_args.json, metrics.jsonl", err);
        Assert.Contains("--overwrite-output-dir", err);

        // The same, resuming: refused, naming the first difference; training_args.json is not rewritten.
        (exit, _, err) = CliHarness.Run(Train(run, "0.001", "--resume", "latest"));
        Assert.Equal(1, exit);
        Assert.Equal("error: --resume latest: checkpoint-40 was written by a run with learning_rate 0.0002; this run has 0.001 " +
                     "(resume with the same settings, or start a new run with --overwrite-output-dir or another --out)", err.Trim());
        Assert.Equal(args, File.ReadAllBytes(Path.Combine(run, "training_args.json")));
        Assert.Equal(adapter, File.ReadAllBytes(Path.Combine(run, "adapter_model.safetensors")));
        Assert.Equal(metrics, File.ReadAllBytes(Path.Combine(run, "metrics.jsonl")));

        // The same run resumed at its last step finishes cleanly: the checkpoint's loss (not NaN), the same adapter.
        (exit, output, err) = CliHarness.Run(Train(run, "0.0002", "--resume", "latest"));
        Assert.True(exit == 0, err);
        Assert.Contains($"done: 40 steps, final loss {finalLoss:F4}, no step left to run", output);
        Assert.DoesNotContain("NaN", output);
        Assert.Equal(adapter, File.ReadAllBytes(Path.Combine(run, "adapter_model.safetensors")));

        // --overwrite-output-dir replaces the old run: its checkpoints and metrics go, so the two runs do not mix.
        (exit, _, err) = CliHarness.Run(["train", "--mode", "lora", "--out", run, "--device", "cpu", "--max-steps", "5", "--logging-steps", "1",
                                         "--learning-rate", "0.001", "--overwrite-output-dir"]);
        Assert.True(exit == 0, err);
        Assert.Empty(CheckpointStore.List(run));
        Assert.Equal([1L, 2, 3, 4, 5], MetricsJsonlReader.Read(Path.Combine(run, "metrics.jsonl")).Select(m => m.Step));
        Assert.Equal(0.001, JsonNode.Parse(File.ReadAllText(Path.Combine(run, "training_args.json")))!["learning_rate"]!.GetValue<double>(), 6);
        Assert.NotEqual(adapter, File.ReadAllBytes(Path.Combine(run, "adapter_model.safetensors")));

        (exit, _, err) = CliHarness.Run(Train(run, "0.001", "--resume", "latest", "--overwrite-output-dir"));
        Assert.Equal(1, exit);
        Assert.Contains("error: --overwrite-output-dir and --resume cannot be combined", err);
    }

    [Theory]
    [InlineData(-5)]
    [InlineData(41)]
    public void An_edited_global_step_out_of_range_is_a_file_format_error(int step)
    {
        using var tmp = new TempDir();
        var run = tmp.File("run");
        var (exit, _, err) = CliHarness.Run(["train", "--mode", "lora", "--out", run, "--device", "cpu", "--max-steps", "4", "--save-steps", "4"]);
        Assert.True(exit == 0, err);
        var state = Path.Combine(run, "checkpoint-4", "trainer_state.json");
        var json = (JsonObject)JsonNode.Parse(File.ReadAllText(state))!;
        json["global_step"] = step;
        json["total_steps"] = 40;
        File.WriteAllText(state, json.ToJsonString());
        (exit, _, err) = CliHarness.Run(["train", "--mode", "lora", "--out", run, "--device", "cpu", "--max-steps", "4", "--resume", "latest"]);
        Assert.Equal(1, exit);
        Assert.Equal($"error: {state}: global_step: must be between 0 and total_steps (40), got {step}", err.Trim());
        var e = Assert.Throws<FileFormatException>(() => TrainerState.Read(state));
        Assert.Equal("global_step", e.What);
    }

    [Fact]
    public void The_first_difference_is_named_in_the_runs_order()
    {
        var a = new Dictionary<string, string> { ["mode"] = "lora", ["learning_rate"] = "0.0002", ["seed"] = "42" };
        var b = new Dictionary<string, string> { ["mode"] = "lora", ["learning_rate"] = "0.001", ["seed"] = "7" };
        Assert.Equal(("learning_rate", "0.0002", "0.001"), RunIdentity.FirstDifference(a, b));
        Assert.Null(RunIdentity.FirstDifference(a, new Dictionary<string, string>(a)));
        // Settings an older checkpoint did not record are not compared.
        Assert.Null(RunIdentity.FirstDifference(new Dictionary<string, string> { ["mode"] = "lora" }, a));
    }
}
