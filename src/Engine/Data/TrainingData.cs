using Engine.Tokenizers;

namespace Engine.Data;

/// <summary>The data flags of <c>engine train</c>.</summary>
internal sealed record DataOptions
{
    /// <summary>--data: the training file (required; the built-in demo fills in its sample conversations).</summary>
    public string? DataPath { get; init; }
    /// <summary>--eval-data: a separate evaluation file (takes precedence over <see cref="EvalSplit"/>).</summary>
    public string? EvalDataPath { get; init; }
    /// <summary>--eval-split: fraction of the training file held out for evaluation; 0 = none.</summary>
    public double EvalSplit { get; init; }
    /// <summary>--template; null picks the default for the training file's format.</summary>
    public string? Template { get; init; }
    public int MaxLength { get; init; } = 2048;
    public bool TrainOnInputs { get; init; }
    public bool Packing { get; init; }
    public bool GroupByLength { get; init; }
    public int BatchSize { get; init; } = 1;
    public ulong Seed { get; init; } = 42;
}

/// <summary>Everything <c>engine train</c> needs from the data layer.</summary>
internal sealed record PreparedData(
    Dataset TrainFile,
    ChatTemplate Template,
    DataLoader Train,
    EncodeStats TrainStats,
    DataLoader? Eval,
    EncodeStats? EvalStats,
    int PadId,
    int DroppedPackedWindows,
    IReadOnlyList<string> Notes);

/// <summary>Reads, splits, renders, tokenizes and batches training data.</summary>
internal static class TrainingData
{
    /// <summary>The pad id: the tokenizer's pad token when it has one, else UNK (what FastChat sets for Llama:
    /// <c>tokenizer.pad_token = tokenizer.unk_token</c>). Padded positions carry −100 targets and sit after every real
    /// token, so the value never reaches the loss.</summary>
    public static int PadIdOf(ITokenizer tokenizer) => tokenizer.PadId >= 0 ? tokenizer.PadId : tokenizer.UnkId;

    public static PreparedData Prepare(DataOptions options, ITokenizer tokenizer)
    {
        var file = DataReader.Read(options.DataPath ?? throw new EngineException("--data is required with --model (a ShareGPT/Vicuna, Alpaca, CSV/JSONL or text file)"));
        var template = options.Template is null ? ChatTemplate.DefaultFor(file.Format) : ChatTemplate.Get(options.Template);
        var notes = new List<string>(file.Notes.Select(n => $"{file.Path}: {n}"));

        IReadOnlyList<Sample> trainSamples = file.Samples, evalSamples = Array.Empty<Sample>();
        if (options.EvalDataPath is not null)
        {
            var evalFile = DataReader.Read(options.EvalDataPath);
            notes.AddRange(evalFile.Notes.Select(n => $"{evalFile.Path}: {n}"));
            evalSamples = evalFile.Samples;
        }
        else if (options.EvalSplit > 0)
        {
            (trainSamples, evalSamples) = EvalSplit.Split(file.Samples, options.EvalSplit, options.Seed);
        }

        int pad = PadIdOf(tokenizer);
        // Packed samples may run over several windows, so they are not truncated.
        var encoder = new SampleEncoder(tokenizer, template, options.Packing ? int.MaxValue : options.MaxLength, options.TrainOnInputs);
        var (train, trainStats, droppedWindows) = Build(encoder, trainSamples, options, pad, shuffle: true);
        string within = options.Packing ? "" : $" within the first {options.MaxLength} tokens";
        if (trainStats.DroppedNoLearnedTokens > 0)
            notes.Add($"{trainStats.DroppedNoLearnedTokens} training sample(s) had no learned token{within} and were dropped");

        DataLoader? eval = null;
        EncodeStats? evalStats = null;
        if (evalSamples.Count > 0)
        {
            (eval, evalStats, int evalDropped) = Build(encoder, evalSamples, options with { GroupByLength = false }, pad, shuffle: false);
            droppedWindows += evalDropped;
            if (evalStats.DroppedNoLearnedTokens > 0)
                notes.Add($"{evalStats.DroppedNoLearnedTokens} evaluation sample(s) had no learned token{within} and were dropped");
        }
        return new PreparedData(file, template, train, trainStats, eval, evalStats, pad, droppedWindows, notes);
    }

    private static (DataLoader, EncodeStats, int) Build(SampleEncoder encoder, IReadOnlyList<Sample> samples, DataOptions o, int pad, bool shuffle)
    {
        var (encoded, stats) = encoder.EncodeAll(samples);
        if (encoded.Count == 0)
            throw new EngineException($"no sample has a learned token within {o.MaxLength} tokens ({stats.Samples} read); raise --max-length or check the template");
        int dropped = 0;
        var sequences = o.Packing ? SequencePacker.Pack(encoded, o.MaxLength, pad, out dropped) : TrainingSequence.FromSamples(encoded);
        return (new DataLoader(sequences, o.BatchSize, pad, o.Seed, shuffle, o.GroupByLength), stats, dropped);
    }
}
