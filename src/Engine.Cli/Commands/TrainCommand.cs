using System.CommandLine;
using System.Runtime.InteropServices;
using Engine.Api;

namespace Engine.Cli.Commands;

/// <summary><c>engine train</c>: full, SFT, LoRA or QLoRA fine-tuning. With no --model it runs the built-in demo.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var mode = new Option<string>("--mode") { Description = "full | sft | lora | qlora", DefaultValueFactory = _ => "lora" };
        var model = CommonOptions.Model(required: false);
        model.Description += " (omit it to run the built-in demo)";
        var tokenizer = CommonOptions.Tokenizer();
        var data = new Option<string?>("--data") { Description = "training data: ShareGPT/Vicuna or OpenAI messages JSON/JSONL, Alpaca JSON/JSONL, CSV/JSONL with a text column, or .txt" };
        var output = new Option<string>("--out") { Description = "output folder", DefaultValueFactory = _ => "out" };
        var evalData = new Option<string?>("--eval-data") { Description = "a separate evaluation file" };
        var evalSplit = new Option<double>("--eval-split") { Description = "fraction of the data held out for evaluation", DefaultValueFactory = _ => 0 };
        var template = new Option<string?>("--template") { Description = "chat (the model's own template) | vicuna_v1.1 | llama-2 | alpaca | raw (default follows the data format: conversations use the model's chat template when it has one)" };
        var maxLength = new Option<int>("--max-length") { Description = "truncate samples to this many tokens", DefaultValueFactory = _ => 2048 };
        var trainOnInputs = new Option<bool>("--train-on-inputs") { Description = "learn every token, not only the assistant's" };
        var packing = new Option<bool>("--packing") { Description = "pack whole samples into rows of up to --max-length tokens (no attention across samples)" };
        var groupByLength = new Option<bool>("--group-by-length") { Description = "batch samples of similar length" };
        var trainable = new Option<string?>("--trainable") { Description = "sft: last:N | first:N | module patterns such as \"layers.*.mlp,lm_head\"" };
        var loraR = new Option<int>("--lora-r") { Description = "LoRA rank", DefaultValueFactory = _ => 8 };
        var loraAlpha = new Option<float>("--lora-alpha") { Description = "LoRA alpha (scaling alpha/r)", DefaultValueFactory = _ => 16 };
        var loraDropout = new Option<float>("--lora-dropout") { Description = "dropout on the LoRA input", DefaultValueFactory = _ => 0.05f };
        var loraTargets = new Option<string>("--lora-targets") { Description = "modules to adapt (PEFT names or q,k,v,o,gate,up,down, or all-linear)", DefaultValueFactory = _ => "all-linear" };
        var noDq = new Option<bool>("--no-double-quant") { Description = "qlora: keep NF4 block scales in fp32" };
        var epochs = new Option<int>("--num-epochs") { Description = "passes over the data", DefaultValueFactory = _ => 3 };
        var maxSteps = new Option<int>("--max-steps") { Description = "optimizer steps (overrides --num-epochs)", DefaultValueFactory = _ => -1 };
        var batch = new Option<int>("--batch-size") { Description = "sequences per micro-batch", DefaultValueFactory = _ => 4 };
        var accum = new Option<int>("--grad-accum") { Description = "micro-batches per optimizer step", DefaultValueFactory = _ => 1 };
        var lr = new Option<float?>("--learning-rate") { Description = "peak learning rate (default 2e-4 for lora/qlora, 2e-5 for full/sft)" };
        var scheduler = new Option<string>("--lr-scheduler") { Description = "cosine | linear | constant", DefaultValueFactory = _ => "cosine" };
        var warmupRatio = new Option<double>("--warmup-ratio") { Description = "warmup as a fraction of the steps", DefaultValueFactory = _ => 0.03 };
        var warmupSteps = new Option<int?>("--warmup-steps") { Description = "warmup steps (overrides --warmup-ratio)" };
        var wd = new Option<float>("--weight-decay") { Description = "AdamW decoupled weight decay (not on norms)", DefaultValueFactory = _ => 0f };
        var clip = new Option<double>("--max-grad-norm") { Description = "global gradient-norm clipping (0 = off)", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<ulong>("--seed") { Description = "seed for data order, adapters and dropout", DefaultValueFactory = _ => 42UL };
        var gc = new Option<bool>("--gradient-checkpointing") { Description = "recompute each decoder layer in backward (less memory)" };
        var logging = new Option<int>("--logging-steps") { Description = "log every N steps", DefaultValueFactory = _ => 10 };
        var saveSteps = new Option<int>("--save-steps") { Description = "checkpoint every N steps (0 = only on interrupt)", DefaultValueFactory = _ => 0 };
        var saveLimit = new Option<int>("--save-total-limit") { Description = "keep the newest K checkpoints (0 = all)", DefaultValueFactory = _ => 0 };
        var evalSteps = new Option<int>("--eval-steps") { Description = "evaluate every N steps (0 = at the end)", DefaultValueFactory = _ => 0 };
        var resume = new Option<string?>("--resume") { Description = "latest | a checkpoint folder (only the same run resumes)" };
        var overwrite = new Option<bool>("--overwrite-output-dir") { Description = "replace another run's outputs in --out (without it such a run is refused)" };
        var saveDtype = new Option<string>("--save-dtype") { Description = "full/sft model dtype on save: f32 | bf16 | f16", DefaultValueFactory = _ => "f32" };
        var nproc = new Option<int?>("--nproc-per-node") { Description = "data-parallel: start N ranks on this machine (CPU ranks under Open MPI's mpirun, one per GPU over NCCL) and supervise them, as torchrun does; --batch-size is per rank" };
        var zero = new Option<int>("--zero") { Description = "data-parallel: 1 shards AdamW's moments across the ranks (ZeRO-1; each holds m and v for its share of the parameters, same results bit for bit); 0 keeps them whole on every rank", DefaultValueFactory = _ => 0 };
        var gradOverlap = new Option<bool>("--grad-overlap") { Description = "data-parallel: all-reduce gradient buckets during the backward pass (true, the default; same sums bit for bit) or only after it (false); NCCL always reduces after it for now", DefaultValueFactory = _ => true };
        var distTimeout = new Option<double?>("--dist-timeout") { Description = "data-parallel: seconds a rank waits in one collective before the job ends with an error (default 1800)" };

        var cmd = new Command("train", "fine-tune a model (full, sft, lora, qlora); with no --model, train the built-in demo")
        {
            mode, model, tokenizer, data, output, evalData, evalSplit, template, maxLength, trainOnInputs, packing, groupByLength,
            trainable, loraR, loraAlpha, loraDropout, loraTargets, noDq, epochs, maxSteps, batch, accum, lr, scheduler,
            warmupRatio, warmupSteps, wd, clip, seed, gc, logging, saveSteps, saveLimit, evalSteps, resume, overwrite, saveDtype,
            nproc, distTimeout, zero, gradOverlap,
        };
        cmd.SetAction(p => CliRunner.Run(p, ctx =>
        {
            if (ctx.Get(nproc) is int ranks && !DataParallel.IsRank)
                return Launch(p, ranks, ctx.DeviceSpec, ctx);
            var options = new FineTuneOptions
            {
                Mode = ParseMode(ctx.Get(mode)), Model = ctx.Get(model), Tokenizer = ctx.Get(tokenizer), Data = ctx.Get(data),
                OutputDir = ctx.Get(output), Device = ctx.DeviceSpec, EvalData = ctx.Get(evalData), EvalSplit = ctx.Get(evalSplit),
                Template = ctx.Get(template), MaxLength = ctx.Get(maxLength), TrainOnInputs = ctx.Get(trainOnInputs),
                Packing = ctx.Get(packing), GroupByLength = ctx.Get(groupByLength), Trainable = ctx.Get(trainable),
                LoraR = ctx.Get(loraR), LoraAlpha = ctx.Get(loraAlpha), LoraDropout = ctx.Get(loraDropout), LoraTargets = ctx.Get(loraTargets),
                DoubleQuant = !ctx.Get(noDq),
                NumEpochs = Given(p, epochs) ? ctx.Get(epochs) : null, MaxSteps = Given(p, maxSteps) ? ctx.Get(maxSteps) : null,
                BatchSize = ctx.Get(batch), GradAccum = ctx.Get(accum), LearningRate = ctx.Get(lr), LrScheduler = ctx.Get(scheduler),
                WarmupRatio = ctx.Get(warmupRatio), WarmupSteps = ctx.Get(warmupSteps), WeightDecay = ctx.Get(wd), MaxGradNorm = ctx.Get(clip),
                Seed = ctx.Get(seed), GradientCheckpointing = ctx.Get(gc), LoggingSteps = Given(p, logging) ? ctx.Get(logging) : null,
                SaveSteps = ctx.Get(saveSteps), SaveTotalLimit = ctx.Get(saveLimit), EvalSteps = ctx.Get(evalSteps), Resume = ctx.Get(resume),
                OverwriteOutputDir = ctx.Get(overwrite), SaveDType = ctx.Get(saveDtype), ConsoleProgressBar = true,
                DistributedTimeout = ctx.Get(distTimeout) is double secs ? TimeSpan.FromSeconds(secs) : null, ZeroStage = ctx.Get(zero),
                OverlapGradientReduction = ctx.Get(gradOverlap),
            };
            // Ctrl-C (SIGINT), SIGTERM (docker stop, SLURM, Kubernetes) and SIGHUP (a closed terminal) all finish the
            // current step, save a checkpoint and exit with 128 + the signal (130, 143, 129); a second signal of any of
            // them exits at once.
            using var cts = new CancellationTokenSource();
            int exitCode = 130;
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                if (cts.IsCancellationRequested) return; // a second Ctrl-C kills the process
                e.Cancel = true;
                exitCode = 130;
                cts.Cancel();
                ctx.Error.WriteLine("\ninterrupt: finishing the current step, saving a checkpoint and exiting (Ctrl-C again to abort)");
            };
            void OnSignal(PosixSignalContext s, int code)
            {
                s.Cancel = true; // the runtime's default would end the process now
                if (cts.IsCancellationRequested) Environment.Exit(code);
                exitCode = code;
                cts.Cancel();
                ctx.Error.WriteLine($"\n{s.Signal}: finishing the current step, saving a checkpoint and exiting (send it again to abort)");
            }
            Console.CancelKeyPress += onCancel;
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, s => OnSignal(s, 143));
            using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, s => OnSignal(s, 129));
            try
            {
                var r = FineTuning.Run(options, cancel: cts.Token, log: ctx.Output);
                return r.Interrupted ? exitCode : 0;
            }
            finally { Console.CancelKeyPress -= onCancel; }
        }));
        return cmd;
    }

    /// <summary>--nproc-per-node N outside a launched job: this process becomes the launcher of N ranks running the same
    /// command without the flag.</summary>
    private static int Launch(ParseResult p, int ranks, string device, CliContext ctx)
    {
        var args = new List<string>();
        var tokens = p.Tokens;
        for (int i = 0; i < tokens.Count; i++)
        {
            var v = tokens[i].Value;
            if (v == "--nproc-per-node") { i++; continue; }
            if (v.StartsWith("--nproc-per-node=", StringComparison.Ordinal)) continue;
            args.Add(v);
        }
        return DataParallel.Launch(ranks, device, args, ctx.Error);
    }

    private static FineTuneMode ParseMode(string s) => s.ToLowerInvariant() switch
    {
        "full" => FineTuneMode.Full,
        "sft" => FineTuneMode.Sft,
        "lora" => FineTuneMode.Lora,
        "qlora" => FineTuneMode.Qlora,
        _ => throw new EngineException($"--mode: expected full, sft, lora or qlora, got \"{s}\""),
    };

    private static bool Given(ParseResult p, Option o) => p.GetResult(o) is { Implicit: false };
}
