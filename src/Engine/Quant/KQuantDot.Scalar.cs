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

    private static float Q2KScalar(byte* w, byte* x, int blocks)
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
            sum += dx * KQuantScales.Half(w + 80) * isum - dx * KQuantScales.Half(w + 82) * mins;
        }
        return sum;
    }

    private static float Q3KScalar(byte* w, byte* x, int blocks)
    {
        float sum = 0;
        uint* sc = stackalloc uint[4];
        for (int b = 0; b < blocks; b++, w += BlockQ3_K.Bytes, x += Q8KActivations.BlockBytes)
        {
            KQuantScales.Q3K(w + 96, out sc[0], out sc[1], out sc[2], out sc[3]);
            byte* hmask = w, qs = w + 32;
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            int isum = 0;
            for (int g = 0; g < 16; g++)
            {
                int t = 0;
                for (int l = 0; l < 16; l++)
                {
                    int j = 16 * g + l;
                    int low = (qs[32 * (j / 128) + j % 32] >> (2 * (j % 128 / 32))) & 3;
                    int q = low - (((hmask[j % 32] >> (j / 32)) & 1) != 0 ? 0 : 4);
                    t += q * q8[j];
                }
                isum += (((byte*)sc)[g] - 32) * t;
            }
            sum += Unsafe.ReadUnaligned<float>(x) * KQuantScales.Half(w + 108) * isum;
        }
        return sum;
    }

    private static float Q4KScalar(byte* w, byte* x, int blocks) => Q4Or5KScalar(w, x, blocks, 4);

    private static float Q5KScalar(byte* w, byte* x, int blocks) => Q4Or5KScalar(w, x, blocks, 5);

    /// <summary>q4_K (<paramref name="bits"/> 4) and q5_K (5): 8 sub-blocks of 32 with 6-bit scales and mins.</summary>
    private static float Q4Or5KScalar(byte* w, byte* x, int blocks, int bits)
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
            sum += dx * KQuantScales.Half(w) * isum - dx * KQuantScales.Half(w + 2) * mins;
        }
        return sum;
    }

    private static float Q6KScalar(byte* w, byte* x, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += BlockQ6_K.Bytes, x += Q8KActivations.BlockBytes)
        {
            sbyte* sc = (sbyte*)(w + 192);
            sbyte* q8 = (sbyte*)(x + Q8Qs);
            int isum = 0;
            for (int g = 0; g < 16; g++)
            {
                int t = 0;
                for (int l = 0; l < 16; l++)
                {
                    int j = 16 * g + l, h = j / 128, s = j % 128 / 32, i = j % 32;
                    byte* ql = w + 64 * h + 32 * (s % 2);
                    int low = (ql[i] >> (4 * (s / 2))) & 0xF;
                    int high = (w[128 + 32 * h + i] >> (2 * s)) & 3;
                    t += ((low | (high << 4)) - 32) * q8[j];
                }
                isum += sc[g] * t;
            }
            sum += Unsafe.ReadUnaligned<float>(x) * KQuantScales.Half(w + 208) * isum;
        }
        return sum;
    }
}
