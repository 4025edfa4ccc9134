using System.Globalization;

namespace Engine.Training;

/// <summary>What makes a training run the same run: the model (path and a cheap fingerprint of its files), the data
/// (the loader's fingerprint of the tokenized samples, batch size and order), the mode and what trains, the schedule and
/// every hyperparameter that changes the math. Checkpoints record it (trainer_state.json "run"); resume refuses a
/// checkpoint whose identity differs and names the first difference. Device, logging, saving and evaluation settings
/// are not part of it: changing them does not change the weights.</summary>
internal static class RunIdentity
{
    public static Dictionary<string, string> Of(TrainJobOptions o, ulong dataFingerprint, int totalSteps, int worldSize = 1)
    {
        var l = o.Loop;
        var id = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(string key, object? value) => id[key] = value switch
        {
            null => "none",
            float f => f.ToString("R", CultureInfo.InvariantCulture),
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            bool b => b ? "true" : "false",
            IFormattable v => v.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
        Add("mode", l.Mode.ToString().ToLowerInvariant());
        Add("model", o.ModelPath is null ? "demo" : Path.GetFullPath(o.ModelPath));
        Add("model_fingerprint", o.ModelPath is null ? $"demo-{Demo.Seed}" : ModelFingerprint(o.ModelPath));
        Add("world_size", worldSize); // before what it changes (global batch, data fingerprint, steps), so the message names it
        Add("total_steps", totalSteps);
        Add("learning_rate", l.EffectiveLearningRate);
        Add("lr_scheduler", l.Scheduler.ToString().ToLowerInvariant());
        Add("warmup_steps", LrSchedule.WarmupFrom(totalSteps, l.WarmupRatio, l.WarmupSteps));
        Add("data_fingerprint", dataFingerprint.ToString("x16", CultureInfo.InvariantCulture));
        Add("batch_size", l.BatchSize);
        Add("grad_accum", l.GradAccum);
        Add("max_length", o.Data.MaxLength);
        Add("packing", o.Data.Packing);
        Add("template", o.Data.Template);
        Add("train_on_inputs", o.Data.TrainOnInputs);
        if (l.Mode == TrainMode.Sft) Add("trainable", o.Trainable);
        if (l.Mode is TrainMode.Lora or TrainMode.Qlora)
        {
            Add("lora_r", o.Lora.R);
            Add("lora_alpha", o.Lora.Alpha);
            Add("lora_dropout", o.Lora.Dropout);
            Add("lora_targets", string.Join(",", o.Lora.Targets));
        }
        if (l.Mode == TrainMode.Qlora) Add("double_quant", o.DoubleQuant);
        Add("weight_decay", l.WeightDecay);
        Add("adam_beta1", l.Beta1);
        Add("adam_beta2", l.Beta2);
        Add("adam_epsilon", l.AdamEps);
        Add("max_grad_norm", l.MaxGradNorm);
        Add("seed", l.Seed);
        return id;
    }

    /// <summary>The first setting (in this run's order) where the checkpoint's run differs, or null when they match.
    /// Settings the checkpoint does not record (older checkpoints) are not compared.</summary>
    public static (string Key, string Then, string Now)? FirstDifference(IReadOnlyDictionary<string, string> saved, IReadOnlyDictionary<string, string> current)
    {
        foreach (var (key, now) in current)
            if (saved.TryGetValue(key, out var then) && then != now) return (key, then, now);
        foreach (var (key, then) in saved)
            if (!current.ContainsKey(key)) return (key, then, "none");
        return null;
    }

    /// <summary>Refuses to resume <paramref name="checkpoint"/> unless it was written by this same run.</summary>
    public static void RequireSameRun(string spec, string checkpoint, TrainerState state, IReadOnlyDictionary<string, string> current)
    {
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(checkpoint));
        if (state.Run is { } saved && FirstDifference(saved, current) is var (key, then, now))
            throw new EngineException($"--resume {spec}: {name} was written by a run with {key} {then}; this run has {now} " +
                                      "(resume with the same settings, or start a new run with --overwrite-output-dir or another --out)");
        if (state.Mode.Length > 0 && current.TryGetValue("mode", out var mode) && state.Mode != mode)
            throw new EngineException($"--resume {spec}: {name} was written by a run with mode {state.Mode}; this run has {mode}");
        if (current.TryGetValue("data_fingerprint", out var data) && state.DataFingerprint != data)
            throw new EngineException($"--resume {spec}: the data, batch size or data flags differ from the run that wrote the checkpoint");
        if (current.TryGetValue("total_steps", out var total) && state.TotalSteps.ToString(CultureInfo.InvariantCulture) != total)
            throw new EngineException($"--resume {spec}: the checkpoint belongs to a run of {state.TotalSteps} steps; this one has {total} (keep --num-epochs/--max-steps/--grad-accum)");
    }

    /// <summary>A cheap fingerprint of a model file or folder: the names and sizes of its files, config.json whole and
    /// the first 64 KiB (the header) of every other file. Reads a few hundred KiB at most for a sharded model.</summary>
    public static string ModelFingerprint(string path)
    {
        ulong h = 14695981039346656037UL;
        void Mix(ReadOnlySpan<byte> bytes) { foreach (var b in bytes) h = (h ^ b) * 1099511628211UL; }
        void MixFile(string file)
        {
            var info = new FileInfo(file);
            Mix(System.Text.Encoding.UTF8.GetBytes(info.Name));
            Mix(BitConverter.GetBytes(info.Length));
            using var s = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var buf = new byte[info.Name == "config.json" ? Math.Min(info.Length, 1 << 20) : Math.Min(info.Length, 64 << 10)];
            s.ReadExactly(buf);
            Mix(buf);
        }
        if (File.Exists(path)) MixFile(path);
        else if (Directory.Exists(path))
            foreach (var f in Directory.GetFiles(path).Where(IsModelFile).Order(StringComparer.Ordinal)) MixFile(f);
        return h.ToString("x16", CultureInfo.InvariantCulture);
    }

    private static bool IsModelFile(string f)
    {
        var n = Path.GetFileName(f);
        return n == "config.json" || n.EndsWith(".safetensors", StringComparison.Ordinal) || n.EndsWith(".gguf", StringComparison.Ordinal)
               || n.EndsWith(".bin", StringComparison.Ordinal) || n.EndsWith(".safetensors.index.json", StringComparison.Ordinal);
    }
}
