using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
    /// <summary>On a CUDA <see cref="IlgpuBackend"/> every GEMM implementation is checked (cuBLAS GemmEx, cuBLASLt,
    /// the ILGPU kernel); elsewhere the backend's own choice.</summary>
    private static void MatMul(SelfTestHarness h)
    {
        if (h.C is not IlgpuBackend { IsCuda: true } gpu) { MatMulVariants(h, ""); return; }
        EachSetting(h, "matmul", [GemmPath.CublasGemmEx, GemmPath.CublasLt, GemmPath.Kernel],
            () => gpu.GemmPath, path => gpu.GemmPath = path, suffix => MatMulVariants(h, suffix));
    }

    private static void MatMulVariants(SelfTestHarness h, string suffix)
    {
        var d = D(h);
        int m = d.M, k = d.K, n = d.N, b = d.Batch;
        var act = h.Act;
        MatMulCase(h, $"matmul nn{suffix}", new(m, k), false, new(k, n), false, new(m, n), act, act, act);
        MatMulCase(h, $"matmul nt (linear){suffix}", new(m, k), false, new(n, k), true, new(m, n), act, act, act);
        MatMulCase(h, $"matmul tn, beta=1 into f32 (weight grad){suffix}", new(k, m), true, new(k, n), false, new(m, n), act, act, DType.F32, 1f, 1f);
        MatMulCase(h, $"matmul batched nn{suffix}", new(b, m, k), false, new(b, k, n), false, new(b, m, n), act, act, act);
        MatMulCase(h, $"matmul batched tt, alpha{suffix}", new(b, k, m), true, new(b, n, k), true, new(b, m, n), act, act, act, 0.125f);
        MatMulCase(h, $"matmul rows flattened{suffix}", new(b, m, k), false, new(n, k), true, new(b, m, n), act, act, act);
        MatMulCase(h, $"matmul 2-D a broadcast{suffix}", new(m, k), false, new(b, k, n), false, new(b, m, n), act, act, act, 0.5f);
        // Operands of different dtypes; the CPU backend takes f32 only, so not when it is the candidate itself.
        var other = act == DType.F32 ? DType.BF16 : DType.F32;
        if (h.C is not CpuBackend)
            MatMulCase(h, $"matmul mixed ({other.Name()} weight){suffix}", new(m, k), false, new(n, k), true, new(m, n), act, other, act);
        // LoRA's forward (Ops.LoraLinear): s·h·Bᵀ added into the base's activation-dtype output by the GEMM itself,
        // h in the activation dtype against the fp32 B.
        MatMulCase(h, $"matmul nt, alpha, beta=1 into act out (lora){suffix}", new(m, k), false, new(n, k), true, new(m, n), act, DType.F32, act, 2f, 1f);
        MatMulCase(h, $"matmul f32 in, beta into act out{suffix}", new(m, k), false, new(k, n), false, new(m, n), DType.F32, DType.F32, act, 1f, 0.5f);
        MatMulCase(h, $"matmul a misaligned view{suffix}", new(m, k), false, new(n, k), true, new(m, n), act, act, act, misalignA: true);
    }

    private static void MatMulCase(SelfTestHarness h, string label, Shape sa, bool ta, Shape sb, bool tb, Shape sc,
                                   DType da, DType db, DType dc, float alpha = 1f, float beta = 0f, bool misalignA = false)
    {
        // A view one element into its storage: 2- or 4-byte aligned, where cuBLASLt assumes 256 unless told.
        var a = misalignA ? MisalignedView(h, sa, da) : h.Random(sa, da);
        var b = h.Random(sb, db);
        var c = beta == 0f ? h.Output(sc, dc) : h.Random(sc, dc);
        h.C.MatMul(a.C, ta, b.C, tb, c.C, alpha, beta);
        h.R.MatMul(a.R, ta, b.R, tb, c.R, alpha, beta);
        // An operand converted down to bf16 inside the op loses precision the reference keeps: judge at bf16 tolerance.
        bool rounded = da != db && h.Act != DType.F32;
        h.Check(label, c, $"{da.Name()}·{db.Name()}→{dc.Name()}", rounded ? SelfTestHarness.HalfTolerance : null);
    }

    private static TensorPair MisalignedView(SelfTestHarness h, Shape shape, DType dtype)
    {
        var whole = h.Random(new Shape((int)shape.NumElements + 1), dtype);
        using var cs = whole.C.Slice(1, (int)shape.NumElements);
        using var rs = whole.R.Slice(1, (int)shape.NumElements);
        return new TensorPair(cs.Reshape(shape.ToArray()), rs.Reshape(shape.ToArray()));
    }
}
