using System.Diagnostics;
using Engine.Checkpoints;
using Engine.Formats;
using Engine.Tests.Integration;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Formats;

/// <summary>Issue 11, class 5: multi-file outputs appear whole or not at all, and temporary folders that a killed run
/// left are removed at the start of the next run.</summary>
public class AtomicFolderTests
{
    [Fact]
    public void A_new_folder_appears_whole_and_a_failed_write_leaves_nothing()
    {
        using var tmp = new TempDir();
        var dir = tmp.File("adapter");
        Assert.Throws<IOException>(() => AtomicFile.WriteFolder(dir, d =>
        {
            File.WriteAllText(Path.Combine(d, "adapter_model.safetensors"), "weights");
            throw new IOException("disk full");
        }));
        Assert.False(Directory.Exists(dir));
        Assert.Empty(Directory.GetFileSystemEntries(tmp.Path));

        AtomicFile.WriteFolder(dir, d =>
        {
            Assert.NotEqual(Path.GetFullPath(dir), Path.GetFullPath(d)); // written aside, renamed into place
            File.WriteAllText(Path.Combine(d, "a.json"), "{}");
            File.WriteAllText(Path.Combine(d, "b.safetensors"), "w");
        });
        Assert.Equal(["a.json", "b.safetensors"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        Assert.Equal([dir], Directory.GetFileSystemEntries(tmp.Path));
    }

    [Fact]
    public void Into_a_folder_that_holds_other_things_every_file_is_replaced_only_after_all_are_written()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("metrics.jsonl"), "keep");
        File.WriteAllText(tmp.File("config.json"), "old config");
        File.WriteAllText(tmp.File("model-00001-of-00002.safetensors"), "old shard");
        Assert.Throws<IOException>(() => AtomicFile.WriteFolder(tmp.Path, d =>
        {
            File.WriteAllText(Path.Combine(d, "model.safetensors"), "new weights");
            throw new IOException("disk full");
        }, obsolete: n => n.StartsWith("model", StringComparison.Ordinal)));
        Assert.Equal("old config", File.ReadAllText(tmp.File("config.json")));
        Assert.False(File.Exists(tmp.File("model.safetensors")), "new weights must not appear beside the old config");
        Assert.Equal(3, Directory.GetFileSystemEntries(tmp.Path).Length);

        AtomicFile.WriteFolder(tmp.Path, d =>
        {
            File.WriteAllText(Path.Combine(d, "config.json"), "new config");
            File.WriteAllText(Path.Combine(d, "model.safetensors"), "new weights");
        }, obsolete: n => n.StartsWith("model", StringComparison.Ordinal));
        Assert.Equal(["config.json", "metrics.jsonl", "model.safetensors"], Directory.GetFileSystemEntries(tmp.Path).Select(Path.GetFileName).Order());
        Assert.Equal("new config", File.ReadAllText(tmp.File("config.json")));
    }

    [Fact]
    public void Adapter_and_model_writers_produce_complete_folders()
    {
        using var tmp = new TempDir();
        using var m = Engine.Api.EngineModel.Demo(new Engine.Api.ModelOptions { Device = "cpu" });
        var hf = tmp.File("hf");
        m.SaveHf(hf);
        var files = Directory.GetFiles(hf).Select(Path.GetFileName).Order().ToList();
        Assert.Contains("config.json", files);
        Assert.Contains("generation_config.json", files);
        Assert.Contains("model.safetensors", files);
        Assert.Equal(["hf"], Directory.GetFileSystemEntries(tmp.Path).Select(Path.GetFileName));
        // Saving again over it (not empty now) replaces the files in place and leaves no staging folder.
        m.SaveHf(hf);
        Assert.Equal(files, Directory.GetFileSystemEntries(hf).Select(Path.GetFileName).Order());
        using (var reloaded = Engine.Api.EngineModel.Load(hf, new Engine.Api.ModelOptions { Device = "cpu" })) Assert.NotNull(reloaded);

        var (exit, _, err) = CliHarness.Run("train", "--mode", "lora", "--out", tmp.File("run"), "--device", "cpu", "--max-steps", "2");
        Assert.True(exit == 0, err);
        Assert.True(File.Exists(tmp.File("run/adapter_config.json")) && File.Exists(tmp.File("run/adapter_model.safetensors")));
        Assert.Empty(Directory.GetFileSystemEntries(tmp.File("run"), "*.tmp-*"));
        PeftAdapterIO.ReadConfig(tmp.File("run"));
    }

    [Fact]
    public void Temporary_folders_of_a_killed_run_are_removed_at_the_start_of_the_next()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("tells live pids by /proc");
        using var tmp = new TempDir();
        var run = tmp.File("run");
        // kill -9 during a save: the pid of a process that has exited, and the staging folders it left.
        using (var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!) { p.WaitForExit(); DeadPid = p.Id; }
        Directory.CreateDirectory(Path.Combine(run, $"checkpoint-10.tmp-{DeadPid}"));
        File.WriteAllText(Path.Combine(run, $"checkpoint-10.tmp-{DeadPid}", CheckpointStore.WeightsFile), "half");
        Directory.CreateDirectory(Path.Combine(run, $".save.tmp-{DeadPid}"));
        Directory.CreateDirectory(Path.Combine(run, $"checkpoint-20.tmp-1")); // pid 1 is alive: another process's save
        Assert.Empty(CheckpointStore.List(run));

        var (exit, output, err) = CliHarness.Run("train", "--mode", "lora", "--out", run, "--device", "cpu", "--max-steps", "2");
        Assert.True(exit == 0, err);
        Assert.Contains($"note: removed {Path.Combine(run, $"checkpoint-10.tmp-{DeadPid}")}, left by a run that was killed while saving", output);
        Assert.False(Directory.Exists(Path.Combine(run, $"checkpoint-10.tmp-{DeadPid}")));
        Assert.False(Directory.Exists(Path.Combine(run, $".save.tmp-{DeadPid}")));
        Assert.True(Directory.Exists(Path.Combine(run, "checkpoint-20.tmp-1")));
        Assert.Equal(0, AtomicFile.StalePid("checkpoint-10"));
        Assert.Equal(77, AtomicFile.StalePid("checkpoint-10.old-77"));
    }

    private int DeadPid;
}
