using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Engine.Kernels;

/// <summary>One warp-wide tensor-core product, D = A·B + C with A 16×16 and B 16×8 in bf16 and C/D 16×8 in fp32
/// (PTX <c>mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32</c>). All 32 lanes of the warp must call it together.
/// Fragments as in the PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type", with g = lane &gt;&gt; 2
/// (groupID) and t = lane % 4 (threadID_in_group); a register's low half holds the lower column (or k) index:
/// <list type="bullet">
/// <item>A (row-major): a0 = A[g][2t, 2t+1], a1 = A[g+8][2t, 2t+1], a2 = A[g][2t+8, 2t+9], a3 = A[g+8][2t+8, 2t+9].</item>
/// <item>B (column-major, i.e. a row-major Bᵀ): b0 = B[2t, 2t+1][g], b1 = B[2t+8, 2t+9][g].</item>
/// <item>C/D: c0, c1 = C[g][2t, 2t+1]; c2, c3 = C[g+8][2t, 2t+1].</item>
/// </list>
/// On CUDA it is the instruction itself (inline PTX); elsewhere (ILGPU's CPU accelerator) the same product is
/// emulated with warp shuffles on that exact layout, so kernels built on it check their fragment indexing on the CPU.
/// The emulation multiplies exactly (bf16·bf16 fits fp32) and adds in fp32 in k order; the hardware's internal
/// summation order and rounding may differ in the last bits.</summary>
internal static class Mma
{
    /// <summary>c += a·b on one m16n8k16 bf16 tile (see the class summary for the fragment layout).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MmaBf16(ref float c0, ref float c1, ref float c2, ref float c3, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
    {
        if (CudaAsm.IsSupported)
        {
            Ref<float> d0 = c0, d1 = c1, d2 = c2, d3 = c3;
            Input<uint> x0 = a0, x1 = a1, x2 = a2, x3 = a3, y0 = b0, y1 = b1;
            CudaAsm.EmitRef("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
                            ref d0, ref d1, ref d2, ref d3, ref x0, ref x1, ref x2, ref x3, ref y0, ref y1);
            c0 = d0.Value;
            c1 = d1.Value;
            c2 = d2.Value;
            c3 = d3.Value;
        }
        else
        {
            Emulate(ref c0, ref c1, ref c2, ref c3, a0, a1, a2, a3, b0, b1);
        }
    }

    /// <summary>The product from warp shuffles: for k pair p (k = 2p, 2p+1 and 2p+8, 2p+9) lane 4g + p holds row g's
    /// and row g+8's A pairs and lane 4n + p column n's B pairs, so this lane (rows g, g+8; columns 2t, 2t+1) fetches
    /// from lanes 4g + p, 8t + p and 8t + 4 + p. Each lane's six registers travel as one struct: the CPU accelerator
    /// synchronises the warp once per shuffle whatever its size, so this takes 12 warp barriers instead of 32.</summary>
    private static void Emulate(ref float c0, ref float c1, ref float c2, ref float c3, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
    {
        int lane = Warp.LaneIdx, g = lane >> 2, t = lane & 3;
        var mine = new Registers { A0 = a0, A1 = a1, A2 = a2, A3 = a3, B0 = b0, B1 = b1 };
        for (int p = 0; p < 4; p++)
        {
            var ra = Warp.Shuffle(mine, 4 * g + p);
            var n0 = Warp.Shuffle(mine, 8 * t + p);     // column 2t: B0 has k = 2p, 2p+1; B1 has k = 2p+8, 2p+9
            var n1 = Warp.Shuffle(mine, 8 * t + 4 + p); // column 2t+1
            c0 += Dot(ra.A0, n0.B0) + Dot(ra.A2, n0.B1);
            c1 += Dot(ra.A0, n1.B0) + Dot(ra.A2, n1.B1);
            c2 += Dot(ra.A1, n0.B0) + Dot(ra.A3, n0.B1);
            c3 += Dot(ra.A1, n1.B0) + Dot(ra.A3, n1.B1);
        }
    }

    /// <summary>One lane's mma operands, shuffled together by the emulation.</summary>
    private struct Registers
    {
        public uint A0, A1, A2, A3, B0, B1;
    }

    /// <summary>lo(x)·lo(y) + hi(x)·hi(y) of two bf16 pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(uint x, uint y) =>
        FloatBits.BF16ToFloat((ushort)x) * FloatBits.BF16ToFloat((ushort)y) + FloatBits.BF16ToFloat((ushort)(x >> 16)) * FloatBits.BF16ToFloat((ushort)(y >> 16));

    /// <summary>Two floats as a bf16 pair (round to nearest even): <paramref name="lo"/> in the low half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint PackBf16(float lo, float hi) => FloatBits.FloatToBF16(lo) | ((uint)FloatBits.FloatToBF16(hi) << 16);
}

/// <summary>One thread's part of an m16n8 fp32 accumulator tile (<see cref="Mma"/>'s C/D fragment): C0, C1 at row g,
/// columns 2t, 2t+1; C2, C3 at row g+8.</summary>
internal struct Acc4
{
    public float C0, C1, C2, C3;

    /// <summary>this += a·b (<see cref="Mma.MmaBf16"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Mma(uint a0, uint a1, uint a2, uint a3, uint b0, uint b1) =>
        Engine.Kernels.Mma.MmaBf16(ref C0, ref C1, ref C2, ref C3, a0, a1, a2, a3, b0, b1);

    /// <summary>Row g's pair times <paramref name="top"/>, row g+8's times <paramref name="bottom"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ScaleRows(float top, float bottom)
    {
        C0 *= top;
        C1 *= top;
        C2 *= bottom;
        C3 *= bottom;
    }
}
