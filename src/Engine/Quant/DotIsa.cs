using System.Runtime.Intrinsics.X86;

namespace Engine.Quant;

/// <summary>The instruction set a quantized dot-product kernel runs on. Kernels take one explicitly so tests can run
/// every path on a machine that has them all; <see cref="DotIsas.Detected"/> is the best this machine runs. A path
/// may use the ISA's optional extensions (VNNI) when the CPU has them.</summary>
internal enum DotIsa { Scalar, Avx2, Avx512 }

internal static class DotIsas
{
    /// <summary>The best dot-product ISA of this machine: AVX-512 (F + BW) when present, else AVX2 (+ FMA), else scalar.</summary>
    public static readonly DotIsa Detected =
        Avx512F.IsSupported && Avx512BW.IsSupported ? DotIsa.Avx512 : Avx2.IsSupported && Fma.IsSupported ? DotIsa.Avx2 : DotIsa.Scalar;

    /// <summary>The ISA a caller asked for, lowered to what this machine runs.</summary>
    public static DotIsa Usable(DotIsa wanted) => wanted > Detected ? Detected : wanted;
}
