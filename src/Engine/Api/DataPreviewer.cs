using Engine.Checkpoints;
using Engine.Data;
using Engine.Tokenizers;

namespace Engine.Api;

/// <summary>How <see cref="DataPreviewer.Render"/> shows training data.</summary>
public sealed record DataPreviewOptions
{
    /// <summary>A model whose tokenizer to use (its weights are not loaded).</summary>
    public string? Model { get; init; }
    /// <summary>A tokenizer file (takes precedence over <see cref="Model"/>).</summary>
    public string? Tokenizer { get; init; }
    /// <summary>chat (the model's own chat template), vicuna_v1.1, llama-2, alpaca or raw; null follows the data
    /// format (conversations: the model's chat template when it has one, else vicuna_v1.1).</summary>
    public string? Template { get; init; }
    /// <summary>How many samples to show.</summary>
    public int Samples { get; init; } = 3;
    /// <summary>Truncate samples to this many tokens, as training would.</summary>
    public int MaxLength { get; init; } = 2048;
    /// <summary>Learn every token, not only the assistant's.</summary>
    public bool TrainOnInputs { get; init; }
    /// <summary>Text output: highlight learned tokens with ANSI colour instead of [id:piece].</summary>
    public bool Color { get; init; }

    /// <summary>Range-checks every number; each error names the flag and the allowed range.</summary>
    internal void Validate()
    {
        OptionChecks.Positive(Samples, "--samples");
        OptionChecks.Positive(MaxLength, "--max-length");
    }
}

/// <summary>Shows how training samples render, tokenize and which tokens are learned (<c>engine data preview</c>).</summary>
public static class DataPreviewer
{
    /// <summary>The preview as JSON (<c>rendered_text</c>, <c>tokens</c> with <c>id</c>/<c>piece</c>/<c>learned</c>) or text.</summary>
    public static string Render(string data, DataPreviewOptions options, bool json)
    {
        ArgumentException.ThrowIfNullOrEmpty(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ITokenizer tok;
        if (options.Tokenizer is string tp) tok = TokenizerLoader.Load(tp);
        else if (options.Model is string mp)
            tok = ModelLoader.OpenTokenizer(mp).Tokenizer ?? throw new EngineException(
                $"{mp}: no tokenizer found next to the model; pass --tokenizer PATH (tokenizer.json, tokenizer.model or tokenizer.bin)");
        else throw new EngineException("data preview needs --model or --tokenizer to tokenize with");
        // The whole file is read (and checked) as a stream; only the samples shown are kept.
        using var ds = DataReader.Open(data);
        var tpl = ChatTemplate.Choose(options.Template, ds.Format, () => JinjaChatTemplate.ForModel(options.Model, options.Tokenizer));
        var shown = new List<Sample>();
        foreach (var sample in ds.Samples)
            if (shown.Count < options.Samples) shown.Add(sample);
        var samples = DataPreview.Build(shown, tpl, tok, options.Samples, options.MaxLength, options.TrainOnInputs);
        return json ? DataPreview.ToJson(samples) : DataPreview.ToText(samples, options.Color);
    }
}
