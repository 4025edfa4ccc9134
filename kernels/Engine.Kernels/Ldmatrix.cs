using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Engine.Kernels;

/// <summary>Warp-wide loads of four 8×8 b16 matrices from shared memory into <see cref="Mma"/> fragments (PTX
/// <c>ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16</c>). All 32 lanes call it together; lane i supplies the address
/// of row i % 8 of matrix i / 8 (16 contiguous bytes, 16-byte aligned), and matrix m lands in register m of every lane.
/// As in the PTX ISA ("Warp-level matrix load instruction: ldmatrix"), with g = lane &gt;&gt; 2 and t = lane % 4:
/// <list type="bullet">
/// <item>plain: lane receives row g's elements 2t (low half) and 2t+1 (high half), the layout of an A fragment's
/// register and of a B fragment read from a row-major Bᵀ;</item>
/// <item>.trans: lane receives column g's elements of rows 2t (low) and 2t+1 (high), a B fragment read from a
/// row-major B (two keys of one output column, as P·V needs).</item>
/// </list>
/// Addresses are word indices into the kernel's whole dynamic shared memory (<c>SharedMemory.GetDynamic&lt;uint&gt;()</c>,
/// passed as <c>shared</c>): inline PTX cannot take a pointer from ILGPU, so on CUDA the address is formed from ILGPU's
/// symbol for that region, <c>__dyn_shared_alloca</c> (an internal name of ILGPU 1.5.3; MmaAttentionPtxTests checks
/// the PTX still declares it). A kernel using this must keep all its shared memory dynamic, so the region starts at
/// the (aligned) base of the block's shared window. On other accelerators the load is emulated with warp shuffles of
/// the lanes' addresses, on exactly that layout, so a wrong address on any lane shows on the CPU accelerator.</summary>
internal static class Ldmatrix
{
    /// <summary>Four 8×8 matrices, rows as given (see the class summary).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void X4(ArrayView<uint> shared, int word, out uint r0, out uint r1, out uint r2, out uint r3)
    {
        if (CudaAsm.IsSupported)
        {
            Load(word, false, out r0, out r1, out r2, out r3);
        }
        else
        {
            // Matrix m's row g was addressed by lane 8m + g; this lane's word in it is t.
            int lane = Warp.LaneIdx, g = lane >> 2, t = lane & 3;
            r0 = shared[Warp.Shuffle(word, g) + t];
            r1 = shared[Warp.Shuffle(word, 8 + g) + t];
            r2 = shared[Warp.Shuffle(word, 16 + g) + t];
            r3 = shared[Warp.Shuffle(word, 24 + g) + t];
        }
    }

    /// <summary>Four 8×8 matrices, transposed on the way (see the class summary).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void X4Trans(ArrayView<uint> shared, int word, out uint r0, out uint r1, out uint r2, out uint r3)
    {
        if (CudaAsm.IsSupported)
        {
            Load(word, true, out r0, out r1, out r2, out r3);
        }
        else
        {
            int lane = Warp.LaneIdx, g = lane >> 2, t = lane & 3;
            var halves = shared.Cast<ushort>();
            r0 = Column(halves, word, 2 * t, g);
            r1 = Column(halves, word, 8 + 2 * t, g);
            r2 = Column(halves, word, 16 + 2 * t, g);
            r3 = Column(halves, word, 24 + 2 * t, g);
        }
    }

    /// <summary>The instruction itself (CUDA only); <paramref name="transpose"/> is a constant at every call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load(int word, bool transpose, out uint r0, out uint r1, out uint r2, out uint r3)
    {
        Output<uint> d0 = default, d1 = default, d2 = default, d3 = default;
        Input<uint> at = (uint)word << 2;
        if (transpose)
            CudaAsm.EmitRef("{ .reg .u32 ldm_a; mov.u32 ldm_a, __dyn_shared_alloca; add.u32 ldm_a, ldm_a, %4; " +
                            "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [ldm_a]; }",
                            ref d0, ref d1, ref d2, ref d3, ref at);
        else
            CudaAsm.EmitRef("{ .reg .u32 ldm_a; mov.u32 ldm_a, __dyn_shared_alloca; add.u32 ldm_a, ldm_a, %4; " +
                            "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [ldm_a]; }",
                            ref d0, ref d1, ref d2, ref d3, ref at);
        r0 = d0.Value;
        r1 = d1.Value;
        r2 = d2.Value;
        r3 = d3.Value;
    }

    /// <summary>Element <paramref name="column"/> of the rows addressed by lanes <paramref name="lane"/> (low half) and
    /// <paramref name="lane"/> + 1 (high half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Column(ArrayView<ushort> halves, int word, int lane, int column)
    {
        int lo = Warp.Shuffle(word, lane), hi = Warp.Shuffle(word, lane + 1);
        return halves[2 * lo + column] | ((uint)halves[2 * hi + column] << 16);
    }
}
