using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Engine.Tensors;

namespace Engine.Quant;

/// <summary>Dot products of the legacy ggml block weights (q4_0, q4_1, q5_0, q5_1, q8_0) with 8-bit quantized
/// activations (<see cref="Q8Activations"/>), computed from the packed blocks as ggml-cpu's x86
/// <c>ggml_vec_dot_q4_0_q8_0</c>, <c>q4_1_q8_1</c>, <c>q5_0_q8_0</c>, <c>q5_1_q8_1</c> and <c>q8_0_q8_0</c> do:
/// per block an exact integer dot of the weight codes (q4_0: nibble - 8, q5_0: 5-bit code - 16, q8_0: int8;
/// q4_1/q5_1: the unsigned codes) with the int8 activations, times fp32(d_w)·fp32(d_x) (exact in fp32), plus for
/// q4_1/q5_1 the min term m_w·s_x with the activation block's stored fp16 s = d_x·Σqs; summed in fp32. Every
/// <see cref="DotIsa"/> path gives the scalar result up to fp32 rounding and summation order. q8_0 activations must
/// hold [-127, 127] (what <see cref="Q8Activations"/> writes): the AVX2 path of q4_0/q5_0/q8_0 uses ggml's sign trick,
/// which cannot negate -128 (the scalar and AVX-512 paths are exact for any int8).</summary>
internal static unsafe partial class LegacyDot
{
    /// <summary>The activation block format of a weight type: q8_1 (with its s = d·Σqs for the min term) for Q4_1 and
    /// Q5_1; q8_0 for Q4_0, Q5_0, Q8_0.</summary>
    public static bool TakesQ8_1(GgmlType type) => Check(type) is GgmlType.Q4_1 or GgmlType.Q5_1;

    /// <summary>Σ_i w_i·x_i over <paramref name="n"/> values (n % 32 == 0): <paramref name="w"/> is n values of
    /// <paramref name="type"/> in ggml's block layout, <paramref name="xq"/> the activations quantized to the type's
    /// activation format (<see cref="TakesQ8_1"/>). fp32 result.</summary>
    public static float Dot(GgmlType type, ReadOnlySpan<byte> w, ReadOnlySpan<byte> xq, int n, DotIsa isa)
    {
        Span<float> dst = stackalloc float[1];
        DotRows(type, w, 1, xq, n, dst, isa);
        return dst[0];
    }

    /// <summary><see cref="Dot(GgmlType, ReadOnlySpan{byte}, ReadOnlySpan{byte}, int, DotIsa)"/> on
    /// <see cref="DotIsas.Detected"/>.</summary>
    public static float Dot(GgmlType type, ReadOnlySpan<byte> w, ReadOnlySpan<byte> xq, int n) => Dot(type, w, xq, n, DotIsas.Detected);

    /// <summary>dst[r] = the dot of weight row r with <paramref name="xq"/>, for <paramref name="rows"/> consecutive rows
    /// of <paramref name="n"/> values each (row r at r·type.RowSize(n) bytes in <paramref name="w"/>, which holds exactly
    /// the rows; <paramref name="dst"/> has exactly <paramref name="rows"/> floats). The GEMV inner loop: arguments are
    /// checked, the activation scales decoded and the kernel chosen once per call, not per row.</summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> w, int rows, ReadOnlySpan<byte> xq, int n, Span<float> dst, DotIsa isa) =>
        DotRows(type, w, rows, xq, n, dst, isa, AvxVnni.IsSupported);

    /// <summary><see cref="DotRows(GgmlType, ReadOnlySpan{byte}, int, ReadOnlySpan{byte}, int, Span{float}, DotIsa)"/>
    /// with the AVX2 path's use of AVX-VNNI chosen (false: <c>vpmaddubsw</c> + <c>vpmaddwd</c>), so tests reach both on
    /// a machine that has VNNI.</summary>
    internal static void DotRows(GgmlType type, ReadOnlySpan<byte> w, int rows, ReadOnlySpan<byte> xq, int n, Span<float> dst, DotIsa isa, bool vnni)
    {
        if (vnni && !AvxVnni.IsSupported) throw new ArgumentException("this machine has no AVX-VNNI", nameof(vnni));
        Check(type);
        if (n <= 0 || n % GgmlTypes.QK != 0)
            throw new ArgumentException($"{type.Name()} dot products take a positive multiple of {GgmlTypes.QK} values; got n = {n}", nameof(n));
        if (rows < 0) throw new ArgumentException($"rows must be non-negative; got {rows}", nameof(rows));
        int nb = n / GgmlTypes.QK;
        int rowBytes = checked(nb * type.TypeSize());
        if (w.Length != (long)rows * rowBytes)
            throw new ArgumentException($"{rows} rows of {n} {type.Name()} values take {(long)rows * rowBytes} bytes; the weights have {w.Length}", nameof(w));
        bool q81 = TakesQ8_1(type);
        int xBlock = q81 ? Q8Activations.Q8_1BlockBytes : Q8Activations.Q8_0BlockBytes;
        if (xq.Length != (long)nb * xBlock)
            throw new ArgumentException($"{n} activations as {(q81 ? "q8_1" : "q8_0")} (the activation format of {type.Name()}) take {(long)nb * xBlock} bytes; got {xq.Length}", nameof(xq));
        if (dst.Length != rows)
            throw new ArgumentException($"the destination must hold one float per row ({rows}); it has {dst.Length}", nameof(dst));
        if (isa < DotIsa.Scalar || isa > DotIsas.Detected)
            throw new ArgumentException($"this machine runs dot-product ISAs up to {DotIsas.Detected}; {isa} was asked for", nameof(isa));
        if (rows == 0) return;

        // The activation's fp16 d (and q8_1's s) as fp32, decoded once and shared by every row.
        float[]? rented = nb * 2 > 1024 ? ArrayPool<float>.Shared.Rent(nb * 2) : null;
        Span<float> scales = rented ?? stackalloc float[nb * 2];
        for (int b = 0; b < nb; b++)
        {
            var block = xq.Slice(b * xBlock);
            scales[b] = HalfBits.ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(block));
            scales[nb + b] = q81 ? HalfBits.ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(block[2..])) : 0f;
        }
        try
        {
            fixed (byte* pw = w)
            fixed (byte* px = xq)
            fixed (float* pd = scales)
            fixed (float* pr = dst)
            {
                var a = new Rows(pw, rowBytes, rows, px, pd, pd + nb, nb, pr);
                switch (isa)
                {
                    case DotIsa.Avx512: RunAvx512(type, a); break;
                    case DotIsa.Avx2: RunAvx2(type, a, vnni); break;
                    default: RunScalar(type, a); break;
                }
            }
        }
        finally
        {
            if (rented != null) ArrayPool<float>.Shared.Return(rented);
        }
    }

    private static GgmlType Check(GgmlType type) => type is GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0
        ? type
        : throw new ArgumentException($"legacy block dot products take q4_0, q4_1, q5_0, q5_1 or q8_0 weights; got {GgmlTypes.DescribeId((uint)type)}", nameof(type));

    /// <summary>One DotRows call, checked: <see cref="Count"/> weight rows of <see cref="RowBytes"/> bytes from
    /// <see cref="W"/>, the activation blocks at <see cref="X"/> with their decoded scales <see cref="Dx"/> (and
    /// q8_1 sums <see cref="Sx"/>), <see cref="Blocks"/> blocks per row, results to <see cref="Dst"/>.</summary>
    private readonly struct Rows(byte* w, int rowBytes, int count, byte* x, float* dx, float* sx, int blocks, float* dst)
    {
        public readonly byte* W = w;
        public readonly int RowBytes = rowBytes;
        public readonly int Count = count;
        public readonly byte* X = x;
        public readonly float* Dx = dx;
        public readonly float* Sx = sx;
        public readonly int Blocks = blocks;
        public readonly float* Dst = dst;
    }

    /// <summary>A row kernel: the dot of one weight row with the activations.</summary>
    private interface IRowKernel
    {
        static abstract float Row(byte* w, byte* x, float* dx, float* sx, int nb);
    }

    /// <summary>Runs <typeparamref name="TKernel"/> over every row; the generic instantiation over a struct makes the
    /// per-row call direct.</summary>
    private static void Run<TKernel>(in Rows a) where TKernel : struct, IRowKernel
    {
        for (int r = 0; r < a.Count; r++)
            a.Dst[r] = TKernel.Row(a.W + (nint)r * a.RowBytes, a.X, a.Dx, a.Sx, a.Blocks);
    }
}
