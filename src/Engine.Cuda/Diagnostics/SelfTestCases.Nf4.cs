using Engine.Backends.Cuda;
using Engine.Backends;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
    /// <summary>NF4 dequantization (bit-exact against the host quantizer's own dequantization, in fp32 and in the
    /// activation dtype) and the NF4 products of QLoRA's forward and input gradient, for plain and double-quantized
    /// scales, with shapes whose blocks cross rows and whose rows are not whole 32-bit words of codes. On an
    /// <see cref="IlgpuBackend"/> both product paths run: the fused dequantize-GEMV and dequantize + GEMM.</summary>
    private static void Nf4(SelfTestHarness h)
    {
        (int Rows, int Cols)[] shapes = h.Tiny ? [(10, 72), (7, 37)] : [(1024, 768), (344, 1001)];
        foreach (var (rows, cols) in shapes)
            foreach (bool dq in new[] { true, false })
                Nf4Shape(h, rows, cols, dq);
    }

    private static void Nf4Shape(SelfTestHarness h, int rows, int cols, bool dq)
    {
        var values = new float[rows * cols];
        h.Rng.FillNormal(values, 0, 0.05);
        var host = Nf4Weight.Quantize(values, rows, cols, dq);
        var wc = Upload(h.C, host);
        var wr = Upload(h.R, host);
        string label = $"nf4{(dq ? "+dq" : "")} [{rows}, {cols}]";
        string shape = $"[{rows}, {cols}]";

        var expect = new float[host.Count];
        host.Dequantize(expect);
        using (var f = h.C.Empty(new Shape(rows, cols), DType.F32))
        {
            h.C.Nf4Dequantize(wc, 0, f);
            h.CheckExact($"{label} dequantize f32", SelfTestHarness.Read(h.C, f), expect, shape, "f32");
        }
        using (var lo = h.C.Empty(new Shape(rows, cols), h.Act))
        {
            h.C.Nf4Dequantize(wc, 0, lo);
            h.CheckExact($"{label} dequantize {h.Act.Name()}", SelfTestHarness.Read(h.C, lo), SelfTestHarness.RoundTo(expect, h.Act), shape, h.Act.Name());
        }
        int start = cols + 3, n = Math.Min(2 * cols + 5, (int)host.Count - start);
        using (var part = h.C.Empty(new Shape(n), DType.F32))
        {
            h.C.Nf4Dequantize(wc, start, part);
            h.CheckExact($"{label} dequantize from element {start}", SelfTestHarness.Read(h.C, part), expect.AsSpan(start, n).ToArray(), $"[{n}]", "f32");
        }

        var gpu = h.C as IlgpuBackend;
        int savedFused = gpu?.Nf4FusedMaxRows ?? 0;
        try
        {
            foreach (int m in new[] { 1, 3, 9 })
            {
                foreach (int fused in gpu is null ? new[] { 0 } : new[] { 0, 16 })
                {
                    if (gpu is not null) gpu.Nf4FusedMaxRows = fused;
                    string path = gpu is null ? "" : fused > 0 ? " fused" : " dequant+gemm";
                    var x = h.Random(new Shape(m, cols), h.Act);
                    var y = h.Output(new Shape(m, rows), h.Act);
                    h.C.Nf4MatMul(x.C, wc, true, y.C);
                    h.R.Nf4MatMul(x.R, wr, true, y.R);
                    h.Check($"{label} x·Wᵀ m={m}{path}", y);
                }
                var g = h.Random(new Shape(m, rows), h.Act);
                var dx = h.Output(new Shape(m, cols), h.Act);
                h.C.Nf4MatMul(g.C, wc, false, dx.C);
                h.R.Nf4MatMul(g.R, wr, false, dx.R);
                h.Check($"{label} g·W m={m}", dx);
            }
        }
        finally
        {
            if (gpu is not null) gpu.Nf4FusedMaxRows = savedFused;
        }
    }

    private static Nf4DeviceWeight Upload(IBackend be, Nf4Weight w)
    {
        var packed = be.FromBytes(w.Packed, new Shape(w.Packed.Length), DType.U8);
        if (w.Nested is not { } n)
            return new Nf4DeviceWeight(w.Rows, w.Cols, w.BlockSize, packed, be.FromFloats(w.Absmax!, new Shape(w.Absmax!.Length), DType.F32));
        return new Nf4DeviceWeight(w.Rows, w.Cols, w.BlockSize, packed, be.FromBytes(n.Codes, new Shape(n.Codes.Length), DType.U8),
            be.FromFloats(n.Absmax, new Shape(n.Absmax.Length), DType.F32), be.FromFloats(n.CodeMap, new Shape(256), DType.F32),
            n.Offset, n.BlockSize);
    }
}
