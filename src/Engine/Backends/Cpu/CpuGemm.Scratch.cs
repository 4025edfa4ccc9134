using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Backends.Cpu;

internal static unsafe partial class CpuGemm
{
    // One pinned scratch array per thread, grown on demand and kept: packing buffers cost nothing in steady state and
    // die with their thread. Pinned (pinned object heap) so raw pointers into it stay valid without `fixed`.
    [ThreadStatic] private static float[]? t_scratch;

    /// <summary>At least <paramref name="floats"/> floats of this thread's scratch, 64-byte aligned, contents undefined.
    /// Valid until this thread's next call.</summary>
    private static float* Scratch(long floats)
    {
        var s = t_scratch;
        if (s == null || s.Length < floats + 16)
            t_scratch = s = GC.AllocateUninitializedArray<float>((int)Math.Max(floats + 16, (s?.Length ?? 0) * 3L / 2), pinned: true);
        nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(s));
        return (float*)((p + 63) & ~(nint)63);
    }
}
