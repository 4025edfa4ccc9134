namespace Engine.Api;

/// <summary>How <see cref="EngineModel.Generate"/> samples. The defaults are llama.cpp's.</summary>
public sealed record GenerationOptions
{
    /// <summary>Tokens to generate at most (the model's context also bounds it).</summary>
    public int MaxNewTokens { get; init; } = 256;
    /// <summary>Sampling temperature; 0 picks the most likely token (greedy).</summary>
    public float Temperature { get; init; } = 0.8f;
    /// <summary>Sample among the K most likely tokens (0 = all).</summary>
    public int TopK { get; init; } = 40;
    /// <summary>Nucleus sampling mass (1 = off).</summary>
    public float TopP { get; init; } = 0.95f;
    /// <summary>Seed of the sampler: the same seed, prompt and model give the same text.</summary>
    public ulong Seed { get; init; } = 42;
    /// <summary>Keep generating after the end-of-sequence token.</summary>
    public bool IgnoreEos { get; init; }
    /// <summary>Treat the prompt as a user message: wrap it with the model's own chat template (with the generation
    /// prompt, as <c>apply_chat_template(add_generation_prompt=True)</c>) and stop at any of the model's end-of-turn
    /// tokens. The model must have a chat template (chat_template.jinja, tokenizer_config.json or GGUF).</summary>
    public bool Chat { get; init; }
    /// <summary>With <see cref="Chat"/>: a system message put before the user's.</summary>
    public string? System { get; init; }
    /// <summary>Element type of the KV cache: "auto" (f16 on the CPU for a model held in GGUF blocks, as llama.cpp
    /// keeps its cache; otherwise the device's activation dtype), "f32", "f16" or "q8_0" (ggml q8_0 blocks, 34 bytes per
    /// 32 values, as llama.cpp's <c>--cache-type-k/-v q8_0</c>; CPU only, for a head dim that is a multiple of 32).</summary>
    public string KvCache { get; init; } = "auto";

    /// <summary>Range-checks every number; each error names the flag and the allowed range.</summary>
    internal void Validate()
    {
        OptionChecks.AtLeast(MaxNewTokens, 0, "--max-new-tokens");
        if (KvCache is not ("auto" or "f32" or "f16" or "q8_0"))
            throw new EngineException($"--kv-cache: expected auto, f32, f16 or q8_0; got '{KvCache}'");
        OptionChecks.Positive(Temperature, OptionChecks.Show(Temperature), "--temperature", orZero: true, note: "0 = greedy");
        OptionChecks.AtLeast(TopK, 0, "--top-k", "0 = all tokens");
        OptionChecks.Interval(TopP, OptionChecks.Show(TopP), 0, 1, "--top-p", upperClosed: true, note: "1 = off");
        if (System is not null && !Chat) throw new EngineException("--system needs --chat (a system message is part of a chat template)");
    }
}

/// <summary>The outcome of <see cref="EngineModel.Generate"/>.</summary>
/// <param name="PromptTokens">The prompt as token ids, BOS first.</param>
/// <param name="Tokens">The whole sequence: the prompt followed by the generated tokens.</param>
/// <param name="Text">The decoded text of <paramref name="Tokens"/> (prompt included).</param>
/// <param name="NewText">The decoded text of the generated tokens alone.</param>
public sealed record GenerationResult(IReadOnlyList<int> PromptTokens, IReadOnlyList<int> Tokens, string Text, string NewText)
{
    /// <summary>How many tokens were generated.</summary>
    public int NewTokens => Tokens.Count - PromptTokens.Count;
}

/// <summary>The outcome of <see cref="EngineModel.Evaluate"/>: the mean negative log-likelihood per predicted token.</summary>
/// <param name="Texts">How many texts were scored.</param>
/// <param name="PredictedTokens">Tokens scored (every token after BOS).</param>
/// <param name="MeanNll">Mean negative log-likelihood per predicted token, in nats.</param>
public sealed record EvaluationResult(int Texts, long PredictedTokens, double MeanNll)
{
    /// <summary>exp(<see cref="MeanNll"/>).</summary>
    public double Perplexity => Math.Exp(MeanNll);
}
