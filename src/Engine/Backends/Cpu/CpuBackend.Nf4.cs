using System.Buffers;
using Engine.Quant;
using Engine.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Engine.Backends.Cpu;

internal sealed partial class CpuBackend
{
    /// <summary>Elements of W dequantized at a time by <see cref="Nf4MatMul"/> (1 MiB of fp32): the only full-precision
    /// part of the weight that ever exists, counted in <see cref="MemoryInUse"/> while it lives.</summary>
    internal static int Nf4ChunkElements { get; set; } = 1 << 18;

    public void Nf4Dequantize(Nf4DeviceWeight w, long start, Tensor dst)
    {
        CheckNf4(w, "nf4 dequantize");
        long n = dst.NumElements;
        if (start < 0 || start > w.Count - n)
            throw new ArgumentOutOfRangeException(nameof(start), $"nf4 dequantize: elements {start}..{start + n - 1} are outside the {w.Count} of {w.Rows}×{w.Cols}");
        if (n == 0) return;
        switch (dst.DType)
        {
            case DType.F32: DequantizeNf4Range(w, start, dst.F32()); break;
            case DType.BF16: DequantizeNf4Range<ushort, Nf4Quantizer.Bf16Store>(w, start, dst.U16()); break;
            case DType.F16:
            {
                var f = ArrayPool<float>.Shared.Rent((int)n);
                try
                {
                    DequantizeNf4Range(w, start, f.AsSpan(0, (int)n));
                    HalfConversions.FloatToF16(f.AsSpan(0, (int)n), dst.U16());
                }
                finally { ArrayPool<float>.Shared.Return(f); }
                break;
            }
            default: throw new NotSupportedException($"nf4 dequantize: the output must be a float tensor, got {dst}");
        }
    }

    /// <summary>Works through W in chunks of rows: each chunk is dequantized into one pooled fp32 scratch buffer and
    /// multiplied in, so at most <see cref="Nf4ChunkElements"/> weights exist in fp32 at once. Every dot product and
    /// row update is the one <see cref="CpuGemm"/> computes for the dense weight, in the same order, so the result
    /// equals a dense matmul on the dequantized weight bit for bit.</summary>
    public void Nf4MatMul(Tensor a, Nf4DeviceWeight w, bool transW, Tensor c)
    {
        CheckNf4(w, "nf4 matmul");
        int inF = transW ? w.Cols : w.Rows, outF = transW ? w.Rows : w.Cols;
        if (a.Shape.Last != inF || c.Shape.Last != outF || a.Shape.Rows != c.Shape.Rows)
            throw new ArgumentException($"nf4 matmul: {a.Shape} · {w.Rows}×{w.Cols}{(transW ? "ᵀ" : "")} does not give {c.Shape}");
        int m = (int)a.Shape.Rows;
        var (aa, ao) = Raw(a);
        var (ca, co) = Raw(c);
        if (m == 0) return;
        int chunkRows = (int)Math.Clamp(Nf4ChunkElements / w.Cols, 1, w.Rows);
        var scratchTensor = new Tensor(Allocate(DType.F32, (long)chunkRows * w.Cols, zero: false), new Shape(chunkRows, w.Cols), track: false);
        try
        {
            var (scratch, so) = Raw(scratchTensor);
            int k = w.Cols;
            if (!transW) new Span<float>(ca, co, m * outF).Clear();
            for (int r0 = 0; r0 < w.Rows; r0 += chunkRows)
            {
                int rows = Math.Min(chunkRows, w.Rows - r0);
                DequantizeNf4Range(w, (long)r0 * k, scratch.AsSpan(so, rows * k));
                if (transW) ForwardChunk(aa, ao, ca, co, m, outF, k, r0, rows, scratch, so);
                else BackwardChunk(aa, ao, ca, co, m, inF, k, r0, rows, scratch, so);
            }
        }
        finally { scratchTensor.Dispose(); }
    }

    /// <summary>c[i, r0 + j] = a[i] · W[r0 + j] for the chunk's rows; parallel over a's rows, or over the chunk's rows
    /// when a has few (generation).</summary>
    private static void ForwardChunk(float[] a, int ao, float[] c, int co, int m, int n, int k, int r0, int rows, float[] w, int wo)
    {
        void Dot(int i, int j) =>
            c[co + (long)i * n + r0 + j] = TensorPrimitives.Dot(new ReadOnlySpan<float>(a, ao + i * k, k), new ReadOnlySpan<float>(w, wo + j * k, k));
        if (m >= CpuParallel.Threads)
            CpuParallel.For(m, (long)rows * k * 2, (i0, i1) =>
            {
                for (int i = i0; i < i1; i++)
                    for (int j = 0; j < rows; j++) Dot(i, j);
            });
        else
            CpuParallel.For(rows, (long)m * k * 2, (j0, j1) =>
            {
                for (int j = j0; j < j1; j++)
                    for (int i = 0; i < m; i++) Dot(i, j);
            });
    }

    /// <summary>c[i] += Σ_j a[i, r0 + j]·W[r0 + j] over the chunk's rows, in ascending j and skipping zero factors,
    /// as the dense kernel walks its inner dimension.</summary>
    private static void BackwardChunk(float[] a, int ao, float[] c, int co, int m, int lda, int k, int r0, int rows, float[] w, int wo)
    {
        CpuParallel.For(m, (long)rows * k * 2, (i0, i1) =>
        {
            for (int i = i0; i < i1; i++)
            {
                var crow = new Span<float>(c, co + i * k, k);
                for (int j = 0; j < rows; j++)
                {
                    float s = a[ao + i * lda + r0 + j];
                    if (s == 0f) continue;
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(w, wo + j * k, k), s, crow, crow);
                }
            }
        });
    }

    private void DequantizeNf4Range(Nf4DeviceWeight w, long start, Span<float> dst) =>
        DequantizeNf4Range<float, Nf4Quantizer.F32Store>(w, start, dst);

    private static void DequantizeNf4Range<T, TStore>(Nf4DeviceWeight w, long start, Span<T> dst)
        where T : unmanaged
        where TStore : struct, Nf4Quantizer.IFloatStore<T>
    {
        int b0 = (int)(start / w.BlockSize), b1 = (int)((start + dst.Length - 1) / w.BlockSize) + 1;
        var scales = ArrayPool<float>.Shared.Rent(b1 - b0);
        try
        {
            var s = scales.AsSpan(0, b1 - b0);
            if (w.NestedAbsmax is { } nested)
                Nf4DoubleQuant.DequantizeAbsmax(w.Absmax.U8(), nested.F32(), w.NestedOffset, w.NestedCodeMap!.F32(),
                    w.NestedBlockSize, b0, s);
            else w.Absmax.F32().Slice(b0, b1 - b0).CopyTo(s);
            Nf4Quantizer.DequantizeRange<T, TStore>(w.Packed.U8(), s, b0, w.BlockSize, start, dst);
        }
        finally { ArrayPool<float>.Shared.Return(scales); }
    }

    private void CheckNf4(Nf4DeviceWeight w, string op)
    {
        if (!ReferenceEquals(w.Device, this)) throw new InvalidOperationException($"{op}: the NF4 weight lives on {w.Device.Name}, not on cpu");
    }
}
