using System.Runtime.CompilerServices;

namespace Engine.Quant;

/// <summary>The scalar kernels: ggml's generic <c>ggml_vec_dot_*</c> (quants.c), one block at a time with an exact int
/// sum per block, sumf += sumi·(d_w·d_x) [+ m_w·s_x]. The reference the SIMD paths are tested against; the SIMD paths
/// use <see cref="ScalarBlock"/> for a block they do not fill a vector with.</summary>
internal static unsafe partial class LegacyDot
{
    private static void RunScalar(GgmlType type, in Rows a)
    {
        switch (type)
        {
            case GgmlType.Q4_0: Run<ScalarQ4_0>(a); break;
            case GgmlType.Q4_1: Run<ScalarQ4_1>(a); break;
            case GgmlType.Q5_0: Run<ScalarQ5_0>(a); break;
            case GgmlType.Q5_1: Run<ScalarQ5_1>(a); break;
            default: Run<ScalarQ8_0>(a); break;
        }
    }

    /// <summary>One block's contribution: its integer dot times fp32(d_w)·d_x, plus m_w·s_x for q4_1/q5_1.
    /// <paramref name="w"/> is the weight block, <paramref name="x"/> the activation block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ScalarBlock(GgmlType type, byte* w, byte* x, float dx, float sx)
    {
        float dw = HalfBits.At(w);
        int sum = 0;
        switch (type)
        {
            case GgmlType.Q4_0:
            case GgmlType.Q4_1:
            {
                bool affine = type == GgmlType.Q4_1;
                byte* qs = w + (affine ? 4 : 2);
                sbyte* y = (sbyte*)(x + (affine ? 4 : 2));
                int off = affine ? 0 : 8;
                for (int j = 0; j < 16; j++)
                    sum += ((qs[j] & 0x0F) - off) * y[j] + ((qs[j] >> 4) - off) * y[j + 16];
                break;
            }
            case GgmlType.Q5_0:
            case GgmlType.Q5_1:
            {
                bool affine = type == GgmlType.Q5_1;
                uint qh = Unsafe.ReadUnaligned<uint>(w + (affine ? 4 : 2));
                byte* qs = w + (affine ? 8 : 6);
                sbyte* y = (sbyte*)(x + (affine ? 4 : 2));
                int off = affine ? 0 : 16;
                for (int j = 0; j < 16; j++)
                {
                    int lo = (qs[j] & 0x0F) | (int)((qh >> j) & 1) << 4;
                    int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
                    sum += (lo - off) * y[j] + (hi - off) * y[j + 16];
                }
                break;
            }
            default:
            {
                sbyte* q = (sbyte*)(w + 2);
                sbyte* y = (sbyte*)(x + 2);
                for (int j = 0; j < 32; j++) sum += q[j] * y[j];
                break;
            }
        }
        float r = sum * (dw * dx);
        return type is GgmlType.Q4_1 or GgmlType.Q5_1 ? r + HalfBits.At(w + 2) * sx : r;
    }

    /// <summary><see cref="ScalarBlock"/> kept out of line, for the SIMD kernels' odd last block.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float ScalarTail(GgmlType type, byte* w, byte* x, float dx, float sx) => ScalarBlock(type, w, x, dx, sx);

    private static float ScalarRow(GgmlType type, byte* w, byte* x, float* dx, float* sx, int nb)
    {
        int wb = type.TypeSize();
        int xb = type is GgmlType.Q4_1 or GgmlType.Q5_1 ? Q8Activations.Q8_1BlockBytes : Q8Activations.Q8_0BlockBytes;
        float sumf = 0f;
        for (int b = 0; b < nb; b++) sumf += ScalarBlock(type, w + (nint)b * wb, x + (nint)b * xb, dx[b], sx[b]);
        return sumf;
    }

    private struct ScalarQ4_0 : IRowKernel
    {
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb) => ScalarRow(GgmlType.Q4_0, w, x, dx, sx, nb);
    }

    private struct ScalarQ4_1 : IRowKernel
    {
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb) => ScalarRow(GgmlType.Q4_1, w, x, dx, sx, nb);
    }

    private struct ScalarQ5_0 : IRowKernel
    {
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb) => ScalarRow(GgmlType.Q5_0, w, x, dx, sx, nb);
    }

    private struct ScalarQ5_1 : IRowKernel
    {
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb) => ScalarRow(GgmlType.Q5_1, w, x, dx, sx, nb);
    }

    private struct ScalarQ8_0 : IRowKernel
    {
        public static float Row(byte* w, byte* x, float* dx, float* sx, int nb) => ScalarRow(GgmlType.Q8_0, w, x, dx, sx, nb);
    }
}
