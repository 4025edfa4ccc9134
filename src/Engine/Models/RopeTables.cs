using Engine.Backends;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>cos/sin of position·invFreq[i] for i &lt; d/2 (θ^(−2i/d), or as <see cref="RopeScaling"/> rescales it;
/// yarn also multiplies both by its attention factor), computed in float64 and stored fp32 [positions, d/2]. The
/// tables cover the positions used so far (at least <see cref="InitialPositions"/>, growing by doubling up to the
/// model's context) rather than the whole context up front: a config may claim a context of 2^31-1 positions, and a
/// 128K-context model that only ever sees 512 tokens needs no 128K table. Every entry depends only on its position, so
/// a grown table holds the same values.</summary>
internal sealed class RopeTables : IDisposable
{
    public const int InitialPositions = 4096;

    private readonly IBackend _be;
    private readonly double[] _invFreq;
    private readonly double _scale;
    // Tables replaced by a larger one stay alive until the model is disposed: an autograd graph may still hold them.
    private readonly List<Tensor> _retired = new();

    public RopeTables(IBackend be, int maxPositions, int headDim, double theta)
        : this(be, maxPositions, RopeScaling.DefaultInverseFrequencies(headDim, theta), 1.0) { }

    /// <param name="invFreq">The inverse frequency of each rotary pair (head_dim / 2 of them).</param>
    /// <param name="scale">What cos and sin are multiplied by (yarn's attention factor; 1 otherwise).</param>
    public RopeTables(IBackend be, int maxPositions, double[] invFreq, double scale)
    {
        _be = be;
        _invFreq = invFreq;
        _scale = scale;
        MaxPositions = maxPositions;
        (Cos, Sin) = Build(Math.Min(maxPositions, InitialPositions));
    }

    /// <summary>The tables of a model's config: its head size, rope_theta and rope_scaling.</summary>
    public static RopeTables For(IBackend be, LlamaConfig c) =>
        new(be, c.MaxPositionEmbeddings, RopeScaling.InverseFrequencies(c.RopeScaling, c.HeadDim, c.RopeTheta, c.MaxPositionEmbeddings),
            RopeScaling.AttentionScale(c.RopeScaling));

    public Tensor Cos { get; private set; }
    public Tensor Sin { get; private set; }
    /// <summary>The model's context: the most positions the tables will ever cover.</summary>
    public int MaxPositions { get; }
    /// <summary>Positions the tables cover now.</summary>
    public int Positions => Cos.Shape[0];

    /// <summary>Grows the tables to cover positions 0..<paramref name="positions"/>−1 (at most the model's context).</summary>
    public void EnsurePositions(int positions)
    {
        if (positions <= Positions) return;
        if (positions > MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(positions), $"{positions} positions exceed the model's context of {MaxPositions}");
        int grown = (int)Math.Min(MaxPositions, Math.Max(positions, 2L * Positions));
        _retired.Add(Cos);
        _retired.Add(Sin);
        (Cos, Sin) = Build(grown);
    }

    private (Tensor Cos, Tensor Sin) Build(int positions)
    {
        int half = _invFreq.Length;
        var c = new float[(long)positions * half];
        var s = new float[(long)positions * half];
        for (int i = 0; i < half; i++)
        {
            double freq = _invFreq[i];
            for (int p = 0; p < positions; p++)
            {
                double angle = p * freq;
                c[(long)p * half + i] = (float)(_scale * Math.Cos(angle));
                s[(long)p * half + i] = (float)(_scale * Math.Sin(angle));
            }
        }
        var cos = TensorScope.Unscoped(() => _be.FromFloats(c, new Shape(positions, half), DType.F32));
        var sin = TensorScope.Unscoped(() => _be.FromFloats(s, new Shape(positions, half), DType.F32));
        return (cos, sin);
    }

    public void Dispose()
    {
        Cos.Dispose();
        Sin.Dispose();
        foreach (var t in _retired) t.Dispose();
        _retired.Clear();
    }
}
