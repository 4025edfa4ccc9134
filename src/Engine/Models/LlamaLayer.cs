using Engine.Nn;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>One decoder layer's weights. The seven projections are <see cref="ILinear"/>s so that LoRA and NF4 can
/// replace them in place.</summary>
internal sealed class LlamaLayer
{
    public required int Index { get; init; }
    public required Tensor AttnNorm { get; init; }
    public required Tensor FfnNorm { get; init; }
    public required ILinear Q { get; set; }
    public required ILinear K { get; set; }
    public required ILinear V { get; set; }
    public required ILinear O { get; set; }
    public required ILinear Gate { get; set; }
    public required ILinear Up { get; set; }
    public required ILinear Down { get; set; }
    /// <summary>Projection biases by short name (q_proj …), for the projections the family gives one. They stay
    /// separate from the <see cref="ILinear"/>s, so LoRA, NF4 and merging never see them.</summary>
    public IReadOnlyDictionary<string, Tensor> Biases { get; init; } = new Dictionary<string, Tensor>();
    /// <summary>Qwen 3's per-head RMSNorm weights of q and k [head_dim]; null for the other families.</summary>
    public Tensor? QNorm { get; init; }
    public Tensor? KNorm { get; init; }

    public Tensor? BiasOf(string shortName) => Biases.TryGetValue(shortName, out var b) ? b : null;

    public ILinear Get(string shortName) => shortName switch
    {
        "q_proj" => Q, "k_proj" => K, "v_proj" => V, "o_proj" => O,
        "gate_proj" => Gate, "up_proj" => Up, "down_proj" => Down,
        _ => throw new ArgumentException($"unknown projection {shortName}"),
    };

    public void Set(string shortName, ILinear value)
    {
        switch (shortName)
        {
            case "q_proj": Q = value; break;
            case "k_proj": K = value; break;
            case "v_proj": V = value; break;
            case "o_proj": O = value; break;
            case "gate_proj": Gate = value; break;
            case "up_proj": Up = value; break;
            case "down_proj": Down = value; break;
            default: throw new ArgumentException($"unknown projection {shortName}");
        }
    }
}
