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
    /// <summary>Finds the model's own chat template (what "chat" names, and the default for conversation data; null
    /// when it has none); called only when that template would be used.</summary>
    public Func<JinjaChatTemplate?>? ModelTemplate { get; init; }
    public int MaxLength { get; init; } = 2048;
    public bool TrainOnInputs { get; init; }
    public bool Packing { get; init; }
    public bool GroupByLength { get; init; }
    public int BatchSize { get; init; } = 1;
    public ulong Seed { get; init; } = 42;
}

/// <summary>Everything <c>engine train</c> needs from the data layer.</summary>
internal sealed record PreparedData(
    string TrainPath,
    DataFormat TrainFormat,
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

    /// <summary>Streams the data file(s): each sample is tokenized as it is read and only the encoded samples are kept,
    /// so memory follows the token count, not the file's size.</summary>
    public static PreparedData Prepare(DataOptions options, ITokenizer tokenizer)
    {
        using var file = DataReader.Open(options.DataPath ?? throw new EngineException("--data is required with --model (a ShareGPT/Vicuna, Alpaca, CSV/JSONL or text file)"));
        var template = ChatTemplate.Choose(options.Template, file.Format, options.ModelTemplate);
        // Packing keeps each sample whole in one window of --max-length tokens, so samples are cut to it either way.
        var encoder = new SampleEncoder(tokenizer, template, options.MaxLength, options.TrainOnInputs);
        var all = EncodeStream(encoder, file.Samples);
        var notes = new List<string>(file.Notes.Select(n => $"{file.Path}: {n}"));
        if (template is JinjaChatTemplate jinja) notes.Add($"conversations are rendered with the model's chat template ({jinja.SourceName})");

        List<EncodedSample?> trainEncoded = all, evalEncoded = new();
        if (options.EvalDataPath is not null)
        {
            using var evalFile = DataReader.Open(options.EvalDataPath);
            evalEncoded = EncodeStream(encoder, evalFile.Samples);
            notes.AddRange(evalFile.Notes.Select(n => $"{evalFile.Path}: {n}"));
        }
        else if (options.EvalSplit > 0)
        {
            // The same split as EvalSplit.Split over the samples: encoding is per sample, so splitting after it is equal.
            var isEval = EvalSplit.Mask(all.Count, options.EvalSplit, options.Seed);
            trainEncoded = new List<EncodedSample?>(all.Count);
            for (int i = 0; i < all.Count; i++) (isEval[i] ? evalEncoded : trainEncoded).Add(all[i]);
        }

        int pad = PadIdOf(tokenizer);
        var (train, trainStats, droppedWindows) = Build(trainEncoded, options, pad, shuffle: true);
        string within = $" within the first {options.MaxLength} tokens";
        if (trainStats.DroppedNoLearnedTokens > 0)
            notes.Add($"{trainStats.DroppedNoLearnedTokens} training sample(s) had no learned token{within} and were dropped");

        DataLoader? eval = null;
        EncodeStats? evalStats = null;
        if (evalEncoded.Count > 0)
        {
            (eval, evalStats, int evalDropped) = Build(evalEncoded, options with { GroupByLength = false }, pad, shuffle: false);
            droppedWindows += evalDropped;
            if (evalStats.DroppedNoLearnedTokens > 0)
                notes.Add($"{evalStats.DroppedNoLearnedTokens} evaluation sample(s) had no learned token{within} and were dropped");
        }
        return new PreparedData(file.Path, file.Format, template, train, trainStats, eval, evalStats, pad, droppedWindows, notes);
    }

    /// <summary>Each sample encoded as it is read (null: nothing learned), in file order.</summary>
    private static List<EncodedSample?> EncodeStream(SampleEncoder encoder, IEnumerable<Sample> samples)
    {
        var encoded = new List<EncodedSample?>();
        foreach (var s in samples) encoded.Add(encoder.Encode(s));
        return encoded;
    }

    private static (DataLoader, EncodeStats, int) Build(IReadOnlyList<EncodedSample?> all, DataOptions o, int pad, bool shuffle)
    {
        var (encoded, stats) = SampleEncoder.Collect(all);
        if (encoded.Count == 0)
            throw new EngineException($"no sample has a learned token within {o.MaxLength} tokens ({stats.Samples} read); raise --max-length or check the template");
        int dropped = 0;
        var sequences = o.Packing ? SequencePacker.Pack(encoded, o.MaxLength, out dropped) : TrainingSequence.FromSamples(encoded);
        return (new DataLoader(sequences, o.BatchSize, pad, o.Seed, shuffle, o.GroupByLength), stats, dropped);
    }
}
