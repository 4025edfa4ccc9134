using System.Globalization;
using Engine.Backends;
using Engine.Formats;
using Engine.Tensors;

namespace Engine.Training;

/// <summary>Training checkpoints under the output folder: <c>checkpoint-{step}/</c> holding trainable.safetensors (the
/// trainable weights by name), optimizer.safetensors (Adam moments as "{name}.exp_avg"/".exp_avg_sq"), and
/// trainer_state.json. Each is written into a temporary folder that is renamed into place only when complete, so an
/// interrupted or failed save (full disk) never leaves a half checkpoint that resume would pick up.</summary>
internal static class CheckpointStore
{
    public const string Prefix = "checkpoint-";
    public const string WeightsFile = "trainable.safetensors";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string StateFile = "trainer_state.json";

    public static string Save(string outputDir, IReadOnlyList<(string Name, Tensor Param)> trainable, AdamWOptimizer optimizer, TrainerState state) =>
        Save(outputDir, trainable, optimizer.StepCount, OptimizerMoments.All(optimizer), state);

    /// <summary>Writes a checkpoint with the given moments (every trainable parameter's, in order): under ZeRO-1 rank 0
    /// has gathered them from their owners, so the file is the one a run without sharding writes.</summary>
    public static string Save(string outputDir, IReadOnlyList<(string Name, Tensor Param)> trainable, int optimizerStep,
                              IReadOnlyList<OptimizerMoments> optimizer, TrainerState state)
    {
        Directory.CreateDirectory(outputDir);
        string final = Path.Combine(outputDir, Prefix + state.GlobalStep.ToString(CultureInfo.InvariantCulture));
        string tmp = final + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        try
        {
            var weights = new SafeTensorsWriter(new Dictionary<string, string> { ["format"] = "pt" });
            foreach (var (name, p) in trainable) weights.AddFloats(name, p.Shape.ToArray(), Host(p));
            weights.Write(Path.Combine(tmp, WeightsFile));

            var moments = new SafeTensorsWriter(new Dictionary<string, string> { ["step"] = optimizerStep.ToString(CultureInfo.InvariantCulture) });
            foreach (var m in optimizer)
            {
                moments.AddFloats(m.Name + ".exp_avg", m.Shape, m.ExpAvg);
                moments.AddFloats(m.Name + ".exp_avg_sq", m.Shape, m.ExpAvgSq);
            }
            moments.Write(Path.Combine(tmp, OptimizerFile));
            AtomicFile.Write(Path.Combine(tmp, StateFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(state.ToJson())));

            if (Directory.Exists(final))
            {
                string old = final + ".old-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
                Directory.Move(final, old);
                Directory.Move(tmp, final);
                Directory.Delete(old, recursive: true);
            }
            else Directory.Move(tmp, final);
            AtomicFile.FsyncDirectory(outputDir);
            return final;
        }
        catch
        {
            try { Directory.Delete(tmp, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    private static float[] Host(Tensor t)
    {
        var a = new float[t.NumElements];
        Backend.Of(t).ToFloats(t, a);
        return a;
    }

    /// <summary>Complete checkpoints, oldest first.</summary>
    public static IReadOnlyList<(int Step, string Path)> List(string outputDir)
    {
        if (!Directory.Exists(outputDir)) return Array.Empty<(int, string)>();
        var found = new List<(int, string)>();
        foreach (var dir in Directory.GetDirectories(outputDir, Prefix + "*"))
        {
            var name = Path.GetFileName(dir);
            if (int.TryParse(name.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int step)
                && File.Exists(Path.Combine(dir, StateFile)))
                found.Add((step, dir));
        }
        return found.OrderBy(f => f.Item1).ToList();
    }

    /// <summary>Deletes all but the newest <paramref name="keep"/> checkpoints (0 keeps all).</summary>
    public static void Rotate(string outputDir, int keep)
    {
        if (keep <= 0) return;
        var all = List(outputDir);
        for (int i = 0; i < all.Count - keep; i++) Directory.Delete(all[i].Path, recursive: true);
    }

    /// <summary>Resolves --resume: "latest" (the newest checkpoint in the output folder) or a checkpoint folder path.</summary>
    public static string Resolve(string spec, string outputDir)
    {
        if (spec.Equals("latest", StringComparison.OrdinalIgnoreCase))
        {
            var all = List(outputDir);
            if (all.Count == 0) throw new EngineException($"--resume latest: no checkpoint-* folder with {StateFile} in {outputDir}");
            return all[^1].Path;
        }
        if (!File.Exists(Path.Combine(spec, StateFile)))
            throw new EngineException($"--resume {spec}: not a checkpoint folder (no {StateFile})");
        return spec;
    }

    /// <summary>Restores trainable weights and optimizer moments in place; returns the trainer state. An optimizer over
    /// part of the trainable list (a ZeRO-1 rank's) restores the moments of its own parameters only.</summary>
    public static TrainerState Load(string checkpoint, IReadOnlyList<(string Name, Tensor Param)> trainable, AdamWOptimizer optimizer)
    {
        var state = TrainerState.Read(Path.Combine(checkpoint, StateFile));
        using (var w = SafeTensorsFileOpen(Path.Combine(checkpoint, WeightsFile)))
            foreach (var (name, p) in trainable) Restore(w, name, p);
        using (var m = SafeTensorsFileOpen(Path.Combine(checkpoint, OptimizerFile)))
            foreach (var (name, slot) in optimizer.Slots)
            {
                Restore(m, name + ".exp_avg", slot.M);
                Restore(m, name + ".exp_avg_sq", slot.V);
            }
        optimizer.StepCount = state.GlobalStep;
        return state;
    }

    private static ITensorSource SafeTensorsFileOpen(string path)
    {
        if (!File.Exists(path)) throw new FileFormatException(path, "checkpoint", "file missing; the checkpoint is incomplete");
        return SafeTensorsFile.Open(path);
    }

    private static void Restore(ITensorSource src, string name, Tensor into)
    {
        if (!src.Contains(name)) throw new FileFormatException(src.Path, name, "missing from the checkpoint (was it written by a run with other settings?)");
        var info = src.Info(name);
        if (!info.Shape.AsSpan().SequenceEqual(into.Shape.Dims))
            throw new FileFormatException(src.Path, name, $"shape [{string.Join(", ", info.Shape)}] does not match the model's {into.Shape}");
        var data = new float[info.NumElements];
        src.ReadFloats(name, data);
        var be = Backend.Of(into);
        using var tmp = be.FromFloats(data, into.Shape, into.DType);
        be.Copy(tmp, into);
    }
}
