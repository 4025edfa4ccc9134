using ILGPU;

namespace Engine.Kernels;

/// <summary>Sizes of a rotary-embedding call on x [tokens, heads, 2·half].</summary>
internal struct RopeShape
{
    public int Tokens;
    public int Heads;
    public int Half;
    public int MaxPosition;
    /// <summary>+1 forward, −1 for the inverse rotation (backward).</summary>
    public float Sign;
}

internal static class RopeKernels
{
    /// <summary>HF half-split rotary embedding: the pair (i, i+half) of token n is rotated by angle positions[n]·freq[i]
    /// read from the cos/sin tables [maxPos, half]. One thread per pair; reading both inputs before writing makes
    /// y == x safe. Positions outside the table write zeros and raise <see cref="KernelErrors.PositionOutOfRange"/>.</summary>
    [GpuKernel]
    public static void Rotate<X, Y, T>(ArrayView<byte> x, ArrayView<int> positions, ArrayView<byte> cos, ArrayView<byte> sin,
                                       ArrayView<byte> y, RopeShape s, ArrayView<int> errors)
        where X : struct, IElement where Y : struct, IElement where T : struct, IElement
    {
        long pairs = (long)s.Tokens * s.Heads * s.Half;
        for (long idx = GridLoop.Start; idx < pairs; idx += GridLoop.Stride)
        {
            long row = idx / s.Half;           // token·heads + head
            int i = (int)(idx - row * s.Half);
            int t = (int)(row / s.Heads);
            long b = row * 2 * s.Half;
            int p = positions[t];
            if ((uint)p >= (uint)s.MaxPosition)
            {
                Atomic.Or(ref errors[0], KernelErrors.PositionOutOfRange);
                default(Y).Store(y, b + i, 0f);
                default(Y).Store(y, b + i + s.Half, 0f);
                continue;
            }
            long ti = (long)p * s.Half + i;
            float c = default(T).Load(cos, ti), sn = s.Sign * default(T).Load(sin, ti);
            float x1 = default(X).Load(x, b + i), x2 = default(X).Load(x, b + i + s.Half);
            default(Y).Store(y, b + i, x1 * c - x2 * sn);
            default(Y).Store(y, b + i + s.Half, x2 * c + x1 * sn);
        }
    }
}
