using System.Runtime.CompilerServices;

namespace Engine.Quant;

/// <summary>The scalar kernels: one exact int32 sum per super-block, as ggml's ggml_vec_dot_*_K_q8_K_generic, then
/// sum += (d_x·d)·isum - (d_x·dmin)·mins in fp32. Values are read one by one from the layouts documented on
/// <see cref="BlockQ2_K"/>, <see cref="BlockQ3_K"/>, <see cref="BlockQ4_K"/> and <see cref="BlockQ6_K"/>.</summary>
internal static unsafe partial class KQuantDot
{
    private const int Q8Qs = Q8KActivations.QsOffset, Q8Bsums = Q8KActivations.BsumsOffset;

    /// <summary>bsums[g] of the q8_K block at <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Bsum(byte* x, int g) => Unsafe.ReadUnaligned<short>(x + Q8Bsums + 2 * g);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q2KScalar(byte* w, byte* x, int blocks, nint ahead)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += BlockQ2_K.Bytes, x += Q8KActivations.BlockBytes)
        {
            byte* qs = w + 16;
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            int isum = 0, mins = 0;
            for (int g = 0; g < 16; g++)
            {
                mins += (w[g] >> 4) * Bsum(x, g);
                byte* q = qs + 32 * (g / 8) + 16 * (g % 2);
                int shift = 2 * (g % 8 / 2), t = 0;
                for (int l = 0; l < 16; l++) t += ((q[l] >> shift) & 3) * q8[16 * g + l];
                isum += (w[g] & 0xF) * t;
            }
            float dx = Unsafe.ReadUnaligned<float>(x);
            sum += dx * HalfBits.At(w + 80) * isum - dx * HalfBits.At(w + 82) * mins;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q3KScalar(byte* w, byte* x, int blocks, nint ahead)
    {
        float sum = 0;
        uint* sc = stackalloc uint[4];
        for (int b = 0; b < blocks; b++, w += BlockQ3_K.Bytes, x += Q8KActivations.BlockBytes)
        {
            KQuantScales.Q3K(w + 96, out sc[0], out sc[1], out sc[2], out sc[3]);
            byte* hmask = w;
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            int isum = 0;
            for (int h = 0; h < 2; h++)
            {
                byte* qs = w + 32 + 32 * h;
                for (int s = 0; s < 4; s++, q8 += 32)
                {
                    int shift = 2 * s, hbit = 4 * h + s;
                    for (int k = 0; k < 2; k++)
                    {
                        int t = 0;
                        for (int l = 16 * k; l < 16 * k + 16; l++)
                            t += (((qs[l] >> shift) & 3) + (((hmask[l] >> hbit) & 1) << 2) - 4) * q8[l];
                        isum += (((byte*)sc)[8 * h + 2 * s + k] - 32) * t;
                    }
                }
            }
            sum += Unsafe.ReadUnaligned<float>(x) * HalfBits.At(w + 108) * isum;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4KScalar(byte* w, byte* x, int blocks, nint ahead) => Q4Or5KScalar(w, x, blocks, ahead, 4);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q5KScalar(byte* w, byte* x, int blocks, nint ahead) => Q4Or5KScalar(w, x, blocks, ahead, 5);

    /// <summary>q4_K (<paramref name="bits"/> 4) and q5_K (5): 8 sub-blocks of 32 with 6-bit scales and mins.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Q4Or5KScalar(byte* w, byte* x, int blocks, nint ahead, int bits)
    {
        float sum = 0;
        int bytes = BlockQ4_K.Bytes(bits);
        byte* scales = stackalloc byte[16]; // sc[0..7], m[0..7]
        for (int b = 0; b < blocks; b++, w += bytes, x += Q8KActivations.BlockBytes)
        {
            KQuantScales.Q4K(w + 4, out ((uint*)scales)[0], out ((uint*)scales)[1], out ((uint*)scales)[2], out ((uint*)scales)[3]);
            byte* qh = w + 16, qs = w + (bits == 5 ? 48 : 16);
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            int isum = 0, mins = 0;
            for (int g = 0; g < 8; g++)
            {
                mins += scales[8 + g] * (Bsum(x, 2 * g) + Bsum(x, 2 * g + 1));
                int shift = 4 * (g % 2), t = 0;
                for (int l = 0; l < 32; l++)
                {
                    int q = (qs[32 * (g / 2) + l] >> shift) & 0xF;
                    if (bits == 5) q |= ((qh[l] >> g) & 1) << 4;
                    t += q * q8[32 * g + l];
                }
                isum += scales[g] * t;
            }
            float dx = Unsafe.ReadUnaligned<float>(x);
            sum += dx * HalfBits.At(w) * isum - dx * HalfBits.At(w + 2) * mins;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q6KScalar(byte* w, byte* x, int blocks, nint ahead)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += BlockQ6_K.Bytes, x += Q8KActivations.BlockBytes)
        {
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            int isum = 0;
            for (int h = 0; h < 2; h++, q8 += 128)
            {
                byte* ql = w + 64 * h, qh = w + 128 + 32 * h;
                sbyte* sc = (sbyte*)(w + 192 + 8 * h);
                for (int k = 0; k < 2; k++)
                {
                    int t0 = 0, t1 = 0, t2 = 0, t3 = 0;
                    for (int l = 16 * k; l < 16 * k + 16; l++)
                    {
                        t0 += ((ql[l] & 0xF | (qh[l] & 3) << 4) - 32) * q8[l];
                        t1 += ((ql[l + 32] & 0xF | (qh[l] >> 2 & 3) << 4) - 32) * q8[l + 32];
                        t2 += ((ql[l] >> 4 | (qh[l] >> 4 & 3) << 4) - 32) * q8[l + 64];
                        t3 += ((ql[l + 32] >> 4 | (qh[l] >> 6) << 4) - 32) * q8[l + 96];
                    }
                    isum += sc[k] * t0 + sc[2 + k] * t1 + sc[4 + k] * t2 + sc[6 + k] * t3;
                }
            }
            sum += Unsafe.ReadUnaligned<float>(x) * HalfBits.At(w + 208) * isum;
        }
        return sum;
    }
}
