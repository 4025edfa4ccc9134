using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Backends.Cpu;

/// <summary>The grouped-query decode attention's inner loops for the common head dims (64 and 128) with the cached row
/// held in registers (see <c>AttentionForwardFusedGroups</c>).</summary>
internal sealed partial class CpuBackend
{
    /// <summary>The grouped path's scores for a head dim of 64 (or 128 when <paramref name="wide"/>): each key row is
    /// converted into registers and used by the group's <paramref name="g"/> heads from there. Through a buffer (the
    /// general loop) every head reloaded the row just stored, and in a TinyLlama decode at 660 tokens of context the
    /// attention took 22–24% of the samples against 14–16% this way (bench/RESULTS.md). The same products and sums as
    /// <see cref="Dot{TKv}"/>, so the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void ScoresInRegisters<TKv>(float* q0, byte* k, nint rowBytes, int g, float* ps, int tk, int first, int last, float scale, bool wide)
        where TKv : struct, IKvRows
    {
        int dh = wide ? 128 : 64;
        for (int j = first; j <= last; j++)
        {
            byte* row = k + j * rowBytes;
            LoadRow<TKv>(row, wide, out var r0, out var r1, out var r2, out var r3, out var r4, out var r5, out var r6, out var r7);
            for (int hg = 0; hg < g; hg++)
            {
                float* q = q0 + hg * dh;
                var a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(q), r0, Vector512<float>.Zero);
                var a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(q + 16), r1, Vector512<float>.Zero);
                a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(q + 32), r2, a0);
                a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(q + 48), r3, a1);
                if (wide)
                {
                    a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(q + 64), r4, a0);
                    a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(q + 80), r5, a1);
                    a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(q + 96), r6, a0);
                    a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(q + 112), r7, a1);
                }
                ps[hg * tk + j] = scale * Vector512.Sum(a0 + a1);
            }
        }
    }

    /// <summary>The grouped path's output sums for a head dim of 64 (or 128 when <paramref name="wide"/>), each value
    /// row converted into registers; the same FMA per output value in the same key order as the general loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AccumulateValuesInRegisters<TKv>(byte* v, nint rowBytes, int g, float* ps, int tk, int first, int last, float* pacc, bool wide)
        where TKv : struct, IKvRows
    {
        int dh = wide ? 128 : 64;
        for (int j = first; j <= last; j++)
        {
            byte* row = v + j * rowBytes;
            LoadRow<TKv>(row, wide, out var r0, out var r1, out var r2, out var r3, out var r4, out var r5, out var r6, out var r7);
            for (int hg = 0; hg < g; hg++)
            {
                var p = Vector512.Create(ps[hg * tk + j]);
                float* acc = pacc + hg * dh;
                Avx512F.FusedMultiplyAdd(r0, p, Vector512.Load(acc)).Store(acc);
                Avx512F.FusedMultiplyAdd(r1, p, Vector512.Load(acc + 16)).Store(acc + 16);
                Avx512F.FusedMultiplyAdd(r2, p, Vector512.Load(acc + 32)).Store(acc + 32);
                Avx512F.FusedMultiplyAdd(r3, p, Vector512.Load(acc + 48)).Store(acc + 48);
                if (wide)
                {
                    Avx512F.FusedMultiplyAdd(r4, p, Vector512.Load(acc + 64)).Store(acc + 64);
                    Avx512F.FusedMultiplyAdd(r5, p, Vector512.Load(acc + 80)).Store(acc + 80);
                    Avx512F.FusedMultiplyAdd(r6, p, Vector512.Load(acc + 96)).Store(acc + 96);
                    Avx512F.FusedMultiplyAdd(r7, p, Vector512.Load(acc + 112)).Store(acc + 112);
                }
            }
        }
    }

    /// <summary>A cached row's 64 (or 128 when <paramref name="wide"/>) values as fp32 vectors; r4..r7 are zero when not wide.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void LoadRow<TKv>(byte* row, bool wide, out Vector512<float> r0, out Vector512<float> r1, out Vector512<float> r2, out Vector512<float> r3,
                                            out Vector512<float> r4, out Vector512<float> r5, out Vector512<float> r6, out Vector512<float> r7) where TKv : struct, IKvRows
    {
        r0 = TKv.Load(row, 0); r1 = TKv.Load(row, 1); r2 = TKv.Load(row, 2); r3 = TKv.Load(row, 3);
        r4 = r5 = r6 = r7 = default;
        if (wide) { r4 = TKv.Load(row, 4); r5 = TKv.Load(row, 5); r6 = TKv.Load(row, 6); r7 = TKv.Load(row, 7); }
    }
}
