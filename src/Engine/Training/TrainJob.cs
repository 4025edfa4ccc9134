using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Backends;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Distributed;
using Engine.Formats;
using Engine.Models;
using Engine.Nn;
using Engine.Tensors;
using Engine.Tokenizers;

namespace Engine.Training;

/// <summary>What a finished (or interrupted) job produced.</summary>
internal sealed record TrainJobResult(TrainResult Train, string OutputDir, IReadOnlyList<string> Outputs);

/// <summary><c>engine train</c> end to end: load (or create the demo) model, pick what trains for the mode, prepare
/// the data, report sizes, run the <see cref="Trainer"/>, and save what the mode produces (a PEFT adapter for LoRA,
/// an HF model folder for full/SFT) plus training_args.json, metrics.jsonl, TensorBoard files and loss.png.</summary>
internal sealed class TrainJob
{
    private readonly TrainJobOptions _o;
    private readonly IBackend _be;
    private readonly TextWriter _out;

    public TrainJob(TrainJobOptions options, IBackend backend, TextWriter output)
    {
        _o = options;
        _be = backend;
        _out = output;
    }

    /// <summary>Test hook: the trainer before it runs.</summary>
    public Action<Trainer>? ConfigureTrainer { get; set; }
    /// <summary>Test hook: the trained model before the job saves and disposes it.</summary>
    public Action<LlamaModel>? AfterTraining { get; set; }
    /// <summary>Data-parallel training: the job's ranks (null for a single process). Every rank loads, validates and
    /// trains; only rank 0 changes the output folder.</summary>
    public ICommunicator? Comm { get; init; }
    /// <summary>This rank's status line for the launcher, if one asked.</summary>
    public RankStatus? Status { get; init; }

    private bool IsMain => Comm is null || Comm.Rank == 0;
    private int WorldSize => Comm?.Size ?? 1;

    public TrainJobResult Run(CancellationToken cancel)
    {
        var loop = _o.Loop;
        var mode = loop.Mode;
        bool demo = _o.ModelPath is null;
        if (_o.Resume is not null && _o.OverwriteOutputDir)
            throw new EngineException("--overwrite-output-dir and --resume cannot be combined: one replaces the run in the output folder, the other continues it");
        // Before anything is written: which checkpoint resumes, and whether the folder holds another run.
        string? resume = _o.Resume is null ? null : CheckpointStore.Resolve(_o.Resume, loop.OutputDir);
        var previous = resume is null ? PreviousRunOutputs(loop.OutputDir) : Array.Empty<string>();
        if (previous.Count > 0 && !_o.OverwriteOutputDir)
            throw new EngineException($"--out {loop.OutputDir}: holds another run's outputs ({string.Join(", ", previous.Take(4).Select(Path.GetFileName))}" +
                                      $"{(previous.Count > 4 ? ", …" : "")}); continue it with --resume latest, replace it with --overwrite-output-dir, or choose another --out");
        if (IsMain) Directory.CreateDirectory(loop.OutputDir);
        // The demo's generated files go to rank 0's output folder; another rank keeps its copies in a folder of its own.
        string demoDir = IsMain ? loop.OutputDir : Directory.CreateTempSubdirectory($"engine-rank{Comm!.Rank}-").FullName;

        ITokenizer tokenizer;
        string? tokenizerPath;
        LlamaModel model;
        string dataPath;
        if (demo)
        {
            _out.WriteLine($"demo: no --model given, so engine trains its built-in demo: a small Llama created from seed {Demo.Seed} " +
                           $"on the sample conversations shipped with engine ({mode.ToString().ToLowerInvariant()} mode, device {_be.Name})");
            var spm = Demo.VocabularyModel();
            tokenizer = SentencePieceTokenizer.FromModel(spm, "demo vocabulary");
            tokenizerPath = Path.Combine(demoDir, "demo_tokenizer.model");
            File.WriteAllBytes(tokenizerPath, SentencePieceModelWriter.Write(spm));
            var cfg = Demo.Config(tokenizer.VocabSize);
            model = Demo.Model(_be, tokenizer, WeightsFor(cfg));
            dataPath = _o.Data.DataPath ?? Demo.WriteSampleData(demoDir);
        }
        else
        {
            if (_o.Data.DataPath is null) throw new EngineException("--data is required with --model (a ShareGPT/Vicuna, Alpaca, CSV/JSONL or text file)");
            var loaded = ModelLoader.Load(_o.ModelPath!, _be, WeightsFor, _o.TokenizerPath);
            model = loaded.Model;
            tokenizer = loaded.RequireTokenizer();
            tokenizerPath = loaded.TokenizerPath;
            dataPath = _o.Data.DataPath;
        }

        using (model)
        {
            LoraAdapter? adapter = null;
            // A --model was quantized while loading (WeightsFor); the demo is built dense and quantized here.
            if (mode is TrainMode.Qlora) Nf4Quantization.QuantizeLinears(model, _o.DoubleQuant);
            if (mode is TrainMode.Lora or TrainMode.Qlora)
            {
                adapter = LoraAdapter.Inject(model, _o.Lora with { Seed = loop.Seed });
                model.Owned.Add(adapter);
            }
            var trainable = (adapter?.Parameters.Trainable ?? model.Parameters.Trainable).ToList();

            var data = TrainingData.Prepare(_o.DataFor(dataPath, model.Config.MaxPositionEmbeddings, WorldSize), tokenizer);
            foreach (var note in data.Notes) _out.WriteLine($"note: {note}");
            var trainer = new Trainer(model, trainable, data, loop, _out) { Comm = Comm, Status = Status };
            ConfigureTrainer?.Invoke(trainer);
            trainer.Identity = RunIdentity.Of(_o, data.Train.Fingerprint, trainer.TotalSteps, WorldSize);
            if (resume is not null)
                RunIdentity.RequireSameRun(_o.Resume!, resume, TrainerState.Read(Path.Combine(resume, CheckpointStore.StateFile)), trainer.Identity);
            // Every rank has validated before rank 0 changes the folder (another rank's check must not see this run's files).
            Comm?.Barrier();
            // Validation passed: only now does the folder change.
            if (IsMain)
            {
                if (previous.Count > 0) RemoveRunOutputs(loop.OutputDir);
                foreach (var stale in AtomicFile.RemoveStale(loop.OutputDir))
                    _out.WriteLine($"note: removed {stale}, left by a run that was killed while saving");
                WriteArgs(dataPath, demo);
            }
            if (Comm is not null)
                _out.WriteLine($"data parallel: {Comm.Size} ranks over {Comm.Name}, {loop.BatchSize} rows each per micro-batch " +
                               $"(global batch {loop.BatchSize * Comm.Size * loop.GradAccum} = {loop.BatchSize} × {loop.GradAccum} accumulation × {Comm.Size} ranks); " +
                               $"{OptimizerSharing(trainable)}; {GradientReduction()}; rank 0 writes the outputs");
            else if (loop.ZeroStage >= 1)
                _out.WriteLine("note: --zero 1 shards the optimizer states across data-parallel ranks; this run is one process, so there is nothing to shard");
            Summary(model, adapter, trainable, data, trainer.TotalSteps);

            TrainResult result;
            try { result = trainer.Run(cancel, resume); }
            catch (DeviceOutOfMemoryException e) { throw OutOfMemory(e); }
            AfterTraining?.Invoke(model);
            var outputs = new List<string>();
            if (!IsMain) return new TrainJobResult(result, loop.OutputDir, outputs);
            if (!result.Interrupted)
            {
                if (adapter is not null)
                {
                    PeftAdapterIO.Save(adapter, loop.OutputDir, _o.ModelPath ?? "engine-demo");
                    outputs.Add(Path.Combine(loop.OutputDir, PeftAdapterIO.WeightsFile));
                }
                else
                {
                    HfModelWriter.Save(model, loop.OutputDir, ParseDType(_o.SaveDType), tokenizerPath);
                    outputs.Add(Path.Combine(loop.OutputDir, "config.json"));
                }
            }
            outputs.Add(Path.Combine(loop.OutputDir, "metrics.jsonl"));
            outputs.Add(Path.Combine(loop.OutputDir, "runs"));
            outputs.Add(Path.Combine(loop.OutputDir, "loss.png"));
            var evalPart = result.EvalLoss is double ev ? $", eval loss {ev:F4}" : "";
            _out.WriteLine(result.Interrupted
                ? $"stopped at step {result.Steps}; checkpoint {result.LastCheckpoint}"
                : $"done: {result.Steps} steps, final loss {result.LastLoss:F4}{evalPart}, " +
                  (result.StepLosses.Count == 0 ? "no step left to run (the checkpoint was at the last step)" : $"{result.TokensPerSecond:N0} tokens/s") +
                  $"; wrote {string.Join(", ", outputs)}");
            return new TrainJobResult(result, loop.OutputDir, outputs);
        }
    }

    /// <summary>Files and folders by which a folder holds a training run's outputs.</summary>
    private static readonly string[] RunMarkers =
        { "training_args.json", "metrics.jsonl", "loss.png", "runs", PeftAdapterIO.ConfigFile, PeftAdapterIO.WeightsFile };

    /// <summary>The outputs of an earlier run in <paramref name="dir"/> (training_args.json, checkpoints, adapter,
    /// metrics), empty when there is none.</summary>
    internal static IReadOnlyList<string> PreviousRunOutputs(string dir)
    {
        if (!Directory.Exists(dir)) return Array.Empty<string>();
        var found = RunMarkers.Select(m => Path.Combine(dir, m)).Where(p => File.Exists(p) || Directory.Exists(p)).ToList();
        found.AddRange(Directory.GetDirectories(dir, CheckpointStore.Prefix + "*")
            .Where(d => Path.GetFileName(d).AsSpan(CheckpointStore.Prefix.Length) is { Length: > 0 } n && !n.ContainsAnyExcept("0123456789"))
            .Order(StringComparer.Ordinal));
        return found;
    }

    /// <summary>--overwrite-output-dir: removes the earlier run's outputs so metrics.jsonl, loss.png and the TensorBoard
    /// files do not mix two runs. A full/SFT model folder (config.json, weights, tokenizer files) is removed only when
    /// training_args.json shows that a run wrote it, never a folder that merely holds a model.</summary>
    private void RemoveRunOutputs(string dir)
    {
        bool trainedHere = File.Exists(Path.Combine(dir, "training_args.json"));
        foreach (var p in PreviousRunOutputs(dir))
        {
            if (Directory.Exists(p)) Directory.Delete(p, recursive: true);
            else File.Delete(p);
        }
        if (trainedHere)
            foreach (var f in Directory.GetFiles(dir))
            {
                var n = Path.GetFileName(f);
                if (n is "config.json" or "generation_config.json" or "tokenizer.model" or "tokenizer.bin" or "tokenizer_config.json"
                    || (n.StartsWith("model", StringComparison.Ordinal) && (n.EndsWith(".safetensors", StringComparison.Ordinal) || n.EndsWith(".safetensors.index.json", StringComparison.Ordinal))))
                    File.Delete(f);
            }
        _out.WriteLine($"note: --overwrite-output-dir: removed the earlier run's outputs from {dir}");
    }

    private WeightOptions WeightsFor(LlamaConfig cfg)
    {
        var mode = _o.Loop.Mode;
        Func<string, bool>? trainable = mode switch
        {
            TrainMode.Full => _ => true,
            TrainMode.Sft => TrainableSelection.Parse(_o.Trainable ?? throw new EngineException(
                "--mode sft needs --trainable (last:N for the last N layers, or patterns like \"layers.*.mlp,lm_head\")"), cfg),
            _ => null,
        };
        if (trainable is not null && mode == TrainMode.Sft)
            TrainableSelection.RequireAny(trainable, LlamaWeights.Expected(cfg).Select(e => e.Name), _o.Trainable!);
        // LoRA on a GGUF base keeps the frozen block weights packed on the CPU (the adapter is all that is saved);
        // QLoRA re-quantizes to NF4 as it does for any base, and full/SFT runs save every weight, so they load dense.
        return new WeightOptions
        {
            Trainable = trainable, Nf4 = mode == TrainMode.Qlora ? new Nf4Options(_o.DoubleQuant) : null, KeepGgmlBlocks = mode == TrainMode.Lora,
        };
    }

    /// <summary>Where the AdamW moments live in a data-parallel run: whole on every rank, or (ZeRO-1) sharded, with the
    /// bytes each rank holds.</summary>
    private string OptimizerSharing(IReadOnlyList<(string Name, Tensor Param)> trainable)
    {
        long whole = 2L * sizeof(float) * trainable.Sum(t => t.Param.NumElements);
        if (_o.Loop.ZeroStage < 1 || WorldSize < 2) return $"AdamW moments whole on every rank ({Mib(whole)} each)";
        var shares = ZeroOneSharding.Loads(trainable, WorldSize).Select(n => 2L * sizeof(float) * n).ToArray();
        return $"AdamW moments sharded across the ranks (ZeRO-1): {string.Join(", ", shares.Select((b, r) => $"rank {r} holds {Mib(b)}"))} of {Mib(whole)}";
    }

    /// <summary>When the gradients are summed across the ranks, and why not during the backward where it was asked for.</summary>
    private string GradientReduction() =>
        Trainer.OverlapsGradientReduction(Comm, _o.Loop) ? "gradients all-reduced in buckets during the backward pass"
        : !_o.Loop.OverlapGradientReduction ? "gradients all-reduced after the backward pass (--grad-overlap false)"
        : !Comm!.OverlapsCollectives ? $"gradients all-reduced after the backward pass ({Comm.Name} has no overlapped all-reduce yet)"
        : "gradients all-reduced after the backward pass (one rank)";

    private void Summary(LlamaModel model, LoraAdapter? adapter, List<(string Name, Tensor Param)> trainable, PreparedData data, int steps)
    {
        var sizes = Nf4Quantization.Sizes(model);
        var packed = GgmlPacking.Sizes(model);
        long total = sizes.Bf16 / 2 + packed.Elements + (adapter?.Parameters.CountElements() ?? 0);
        long train = trainable.Sum(t => t.Param.NumElements);
        var c = model.Config;
        _out.WriteLine($"model: {c.NumLayers} layers, hidden {c.HiddenSize}, {c.NumHeads} heads ({c.NumKvHeads} kv), vocab {c.VocabSize}; " +
                       $"parameters {total:N0} total, {train:N0} trainable ({100.0 * train / Math.Max(1, total):F2}%)");
        var s = data.TrainStats;
        _out.WriteLine($"data: {s.Kept} samples ({s.DroppedNoLearnedTokens} dropped, {s.Truncated} truncated), {s.Tokens:N0} tokens, {s.LearnedTokens:N0} learned; " +
                       $"{data.Train.BatchesPerEpoch} batches of {data.Train.BatchSize} per epoch; {steps} optimizer steps" +
                       (data.Eval is not null ? $"; eval {data.EvalStats!.Kept} samples" : ""));
        if (sizes.QuantizedProjections > 0)
            _out.WriteLine($"base weights: {Mib(sizes.Bf16)} bf16 → {Mib(sizes.Quantized)} {(sizes.DoubleQuant ? "nf4+dq" : "nf4")} " +
                           $"({sizes.QuantizedProjections} projections in NF4; embeddings, norms and lm_head counted at bf16)");
        if (packed.Types is not null)
            _out.WriteLine($"base weights: {Mib(packed.Bytes)} kept in the GGUF's {packed.Types} blocks ({packed.Projections} projections" +
                           $"{(model.PackedEmbed is not null ? ", the embedding" : "")}{(!model.TiedEmbeddings && model.Head is GgmlLinear ? ", lm_head" : "")}), never dequantized as a whole");
        var mem = MemoryEstimate.For(model, trainable, _o.Loop.BatchSize, Math.Min(_o.Data.MaxLength, Math.Max(1, s.LongestSample)), _o.Loop.GradientCheckpointing);
        // ZeRO-1: a rank holds the moments of its own share; the largest share is what the busiest rank needs.
        if (_o.Loop.ZeroStage >= 1 && WorldSize > 1)
            mem = mem with { Optimizer = 2L * sizeof(float) * ZeroOneSharding.Loads(trainable, WorldSize).Max() };
        _plan = mem;
        _out.WriteLine($"memory: expects about {Mib(mem.Total)} on {_be.Name} (weights {Mib(mem.Weights)}, gradients {Mib(mem.Gradients)}, " +
                       $"optimizer {Mib(mem.Optimizer)}, activations {Mib(mem.Activations)})");
    }

    private MemoryEstimate? _plan;

    /// <summary>One message for a device that ran out of memory mid-run: what failed, the plan printed at the start, and
    /// what to change, most effective first.</summary>
    private EngineException OutOfMemory(DeviceOutOfMemoryException e)
    {
        var l = _o.Loop;
        var plan = _plan is MemoryEstimate m
            ? $"; this run planned about {Mib(m.Total)} (weights {Mib(m.Weights)}, gradients {Mib(m.Gradients)}, optimizer {Mib(m.Optimizer)}, activations {Mib(m.Activations)})"
            : "";
        var fixes = new List<string> { $"a smaller --batch-size (now {l.BatchSize}; raise --grad-accum to keep the effective batch)", $"a smaller --max-length (now {_o.Data.MaxLength})" };
        if (!l.GradientCheckpointing) fixes.Add("--gradient-checkpointing (recomputes each layer in backward)");
        if (WorldSize > 1 && l.ZeroStage < 1) fixes.Add("--zero 1 (shards AdamW's moments across the ranks)");
        if (l.Mode is TrainMode.Full or TrainMode.Sft) fixes.Add("--mode lora or qlora (trains adapters; no full gradients or optimizer states)");
        else if (l.Mode is TrainMode.Lora) fixes.Add("--mode qlora (a 4-bit base)");
        return new EngineException($"{e.Message}{plan}; to fit, try {string.Join(", ", fixes)}", e);
    }

    private static string Mib(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB" : $"{bytes / (double)(1 << 20):F1} MiB";

    private void WriteArgs(string dataPath, bool demo)
    {
        var l = _o.Loop;
        var args = new JsonObject
        {
            ["mode"] = l.Mode.ToString().ToLowerInvariant(), ["model"] = _o.ModelPath ?? "demo", ["data"] = dataPath,
            ["eval_data"] = _o.Data.EvalDataPath, ["eval_split"] = _o.Data.EvalSplit, ["template"] = _o.Data.Template,
            ["max_length"] = _o.Data.MaxLength, ["packing"] = _o.Data.Packing, ["group_by_length"] = _o.Data.GroupByLength,
            ["train_on_inputs"] = _o.Data.TrainOnInputs, ["trainable"] = _o.Trainable,
            ["lora_r"] = _o.Lora.R, ["lora_alpha"] = _o.Lora.Alpha, ["lora_dropout"] = _o.Lora.Dropout, ["lora_targets"] = new JsonArray(_o.Lora.Targets.Select(t => (JsonNode?)t).ToArray()),
            ["double_quant"] = _o.DoubleQuant,
            ["num_epochs"] = l.NumEpochs, ["max_steps"] = l.MaxSteps, ["batch_size"] = l.BatchSize, ["grad_accum"] = l.GradAccum,
            ["learning_rate"] = l.EffectiveLearningRate, ["lr_scheduler"] = l.Scheduler.ToString().ToLowerInvariant(),
            ["warmup_ratio"] = l.WarmupRatio, ["warmup_steps"] = l.WarmupSteps, ["weight_decay"] = l.WeightDecay,
            ["adam_beta1"] = l.Beta1, ["adam_beta2"] = l.Beta2, ["adam_epsilon"] = l.AdamEps, ["max_grad_norm"] = l.MaxGradNorm,
            ["seed"] = l.Seed, ["gradient_checkpointing"] = l.GradientCheckpointing, ["logging_steps"] = l.LoggingSteps,
            ["save_steps"] = l.SaveSteps, ["save_total_limit"] = l.SaveTotalLimit, ["eval_steps"] = l.EvalSteps,
            ["resume"] = _o.Resume, ["overwrite_output_dir"] = _o.OverwriteOutputDir, ["device"] = _be.Name, ["demo"] = demo,
            ["world_size"] = WorldSize, ["zero_stage"] = l.ZeroStage,
        };
        AtomicFile.Write(Path.Combine(l.OutputDir, "training_args.json"), s =>
        {
            using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true });
            args.WriteTo(w);
        });
    }

    public static DType ParseDType(string s) => s.ToLowerInvariant() switch
    {
        "f32" or "fp32" or "float32" => DType.F32,
        "bf16" or "bfloat16" => DType.BF16,
        "f16" or "fp16" or "float16" => DType.F16,
        _ => throw new EngineException($"--save-dtype: expected f32, bf16 or f16, got \"{s}\""),
    };
}
