using Engine.Backends;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>cos/sin of position·θ^(−2i/d) for i &lt; d/2, computed in float64 and stored fp32 [maxPos, d/2].</summary>
internal sealed class RopeTables : IDisposable
{
    public RopeTables(IBackend be, int maxPositions, int headDim, double theta)
    {
        int half = headDim / 2;
        var c = new float[(long)maxPositions * half];
        var s = new float[(long)maxPositions * half];
        for (int i = 0; i < half; i++)
        {
            double freq = Math.Pow(theta, -2.0 * i / headDim);
            for (int p = 0; p < maxPositions; p++)
            {
                double angle = p * freq;
                c[(long)p * half + i] = (float)Math.Cos(angle);
                s[(long)p * half + i] = (float)Math.Sin(angle);
            }
        }
        Cos = TensorScope.Unscoped(() => be.FromFloats(c, new Shape(maxPositions, half), DType.F32));
        Sin = TensorScope.Unscoped(() => be.FromFloats(s, new Shape(maxPositions, half), DType.F32));
        MaxPositions = maxPositions;
    }

    public Tensor Cos { get; }
    public Tensor Sin { get; }
    public int MaxPositions { get; }

    public void Dispose()
    {
        Cos.Dispose();
        Sin.Dispose();
    }
}
