namespace Engine.Models;

/// <summary>LoRA hyper-parameters. Defaults: all seven Llama projections (the default), r 8, alpha 16 and
/// dropout 0.05 (FastChat's train_lora defaults).</summary>
internal sealed record LoraOptions
{
    public int R { get; init; } = 8;
    public float Alpha { get; init; } = 16f;
    public float Dropout { get; init; } = 0.05f;
    public string[] Targets { get; init; } = LlamaNames.Projections.Select(p => p.Short).ToArray();
    public bool UseRslora { get; init; }
    public ulong Seed { get; init; } = 42;

    /// <summary>PEFT scaling: alpha / r, or alpha / sqrt(r) with rsLoRA.</summary>
    public float Scaling => UseRslora ? Alpha / MathF.Sqrt(R) : Alpha / R;

    /// <summary>Parses --lora-targets: PEFT module names (q_proj, ...), the short forms q,k,v,o,gate,up,down, or
    /// "all" / "all-linear".</summary>
    public static string[] ParseTargets(string spec)
    {
        var result = new List<string>();
        foreach (var raw in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var s = raw.ToLowerInvariant();
            if (s is "all" or "all-linear" or "all_linear")
            {
                result.AddRange(LlamaNames.Projections.Select(p => p.Short));
                continue;
            }
            var name = s.EndsWith("_proj") ? s : s + "_proj";
            if (!LlamaNames.Projections.Any(p => p.Short == name))
                throw new EngineException($"--lora-targets: unknown module \"{raw}\"; expected some of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (or all-linear)");
            result.Add(name);
        }
        if (result.Count == 0) throw new EngineException("--lora-targets: no module named");
        return result.Distinct().OrderBy(n => Array.FindIndex(LlamaNames.Projections, p => p.Short == n)).ToArray();
    }
}
