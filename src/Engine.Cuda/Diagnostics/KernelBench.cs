using System.Diagnostics;
using Engine.Backends;
using Engine.Tensors;

namespace Engine.Diagnostics;

/// <summary>One microbenchmark figure: achieved bytes/s (memory-bound ops) or flop/s (matmul, attention).</summary>
internal sealed record KernelBenchResult(string Name, string Size, double Seconds, double Rate, string Unit)
{
    public string Line() => $"{Name,-26} {Size,-28} {Seconds * 1e3,10:F3} ms {Rate,10:F1} {Unit}";
}

/// <summary>Microbenchmarks of every backend op at training sizes, timed on the device (median of several runs after a
/// warm-up, each run synchronised). The copy bandwidth and the GEMM rate measured in the same run are the yardsticks.</summary>
internal static class KernelBench
{
    public static IReadOnlyList<KernelBenchResult> Run(IBackend be, TextWriter log, bool small = false)
    {
        var results = new List<KernelBenchResult>();
        var act = be.ActivationType;
        int s = small ? 16 : 1;
        void Report(KernelBenchResult r) { results.Add(r); log.WriteLine(r.Line()); log.Flush(); }
        Tensor Rand(Shape shape, DType dtype, double std = 1)
        {
            var v = new float[shape.NumElements];
            new Rng(1).FillNormal(v, 0, std);
            return TensorScope.Unscoped(() => be.FromFloats(v, shape, dtype));
        }

        try
        {
            {
                int n = 256 * 1024 * 1024 / s;
                using var a = TensorScope.Unscoped(() => be.Empty(new Shape(n), act));
                using var b = TensorScope.Unscoped(() => be.Empty(new Shape(n), act));
                be.Fill(a, 1f);
                double t = Time(be, () => be.Copy(a, b));
                Report(new("copy", $"{n / (1 << 20)}M {act.Name()}", t, 2.0 * a.ByteLength / t / 1e9, "GB/s"));
            }
            foreach (int dim in small ? new[] { 256 } : new[] { 4096, 8192 })
            {
                using var a = Rand(new Shape(dim, dim), act, 0.02);
                using var b = Rand(new Shape(dim, dim), act, 0.02);
                using var c = TensorScope.Unscoped(() => be.Empty(new Shape(dim, dim), act));
                double t = Time(be, () => be.MatMul(a, false, b, true, c));
                Report(new("matmul x·wᵀ", $"{dim}³ {act.Name()}", t, 2.0 * dim * dim * dim / t / 1e12, "TFLOP/s"));
            }
            {
                int rows = 16384 / s, d = 4096;
                using var x = Rand(new Shape(rows, d), act);
                using var w = Rand(new Shape(d), DType.F32);
                using var y = TensorScope.Unscoped(() => be.Empty(x.Shape, act));
                using var r = TensorScope.Unscoped(() => be.Empty(new Shape(rows), DType.F32));
                double t = Time(be, () => be.RmsNormForward(x, w, 1e-5f, y, r));
                Report(new("rmsnorm fwd", $"{rows}×{d}", t, 2.0 * x.ByteLength / t / 1e9, "GB/s"));
                using var dx = TensorScope.Unscoped(() => be.Empty(x.Shape, act));
                using var dw = TensorScope.Unscoped(() => be.Zeros(w.Shape, DType.F32));
                t = Time(be, () => be.RmsNormBackward(y, x, w, r, dx, dw));
                Report(new("rmsnorm bwd", $"{rows}×{d}", t, 3.0 * x.ByteLength / t / 1e9, "GB/s"));
            }
            {
                int rows = 16384 / s, d = 11008;
                using var g = Rand(new Shape(rows, d), act);
                using var u = Rand(new Shape(rows, d), act);
                using var y = TensorScope.Unscoped(() => be.Empty(g.Shape, act));
                double t = Time(be, () => be.SwiGluForward(g, u, y));
                Report(new("swiglu fwd", $"{rows}×{d}", t, 3.0 * g.ByteLength / t / 1e9, "GB/s"));
                using var dg = TensorScope.Unscoped(() => be.Empty(g.Shape, act));
                using var du = TensorScope.Unscoped(() => be.Empty(g.Shape, act));
                t = Time(be, () => be.SwiGluBackward(y, g, u, dg, du));
                Report(new("swiglu bwd", $"{rows}×{d}", t, 5.0 * g.ByteLength / t / 1e9, "GB/s"));
            }
            {
                int n = 16384 / s, h = 32, dh = 128;
                using var x = Rand(new Shape(n, h, dh), act);
                using var y = TensorScope.Unscoped(() => be.Empty(x.Shape, act));
                var pos = new int[n];
                for (int i = 0; i < n; i++) pos[i] = i % 2048;
                using var p = TensorScope.Unscoped(() => be.FromInts(pos, new Shape(n)));
                using var rope = new Models.RopeTables(be, 2048, dh, 10000);
                double t = Time(be, () => be.Rope(x, p, rope.Cos, rope.Sin, y, false));
                Report(new("rope", $"{n}×{h}×{dh}", t, 2.0 * x.ByteLength / t / 1e9, "GB/s"));
            }
            {
                int rows = 8192 / s, v = 32000;
                using var logits = Rand(new Shape(rows, v), act);
                var tg = new int[rows];
                for (int i = 0; i < rows; i++) tg[i] = (i * 7919) % v;
                using var targets = TensorScope.Unscoped(() => be.FromInts(tg, new Shape(rows)));
                using var loss = TensorScope.Unscoped(() => be.Empty(new Shape(1), DType.F32));
                using var lse = TensorScope.Unscoped(() => be.Empty(new Shape(rows), DType.F32));
                double t = Time(be, () => be.CrossEntropyForward(logits, targets, -100, loss, lse));
                Report(new("cross-entropy fwd", $"{rows}×{v}", t, logits.ByteLength / t / 1e9, "GB/s"));
                using var one = TensorScope.Unscoped(() => be.FromFloats(new[] { 1f }, new Shape(1), DType.F32));
                using var d = TensorScope.Unscoped(() => be.Empty(logits.Shape, act));
                t = Time(be, () => be.CrossEntropyBackward(logits, targets, -100, lse, one, d));
                Report(new("cross-entropy bwd", $"{rows}×{v}", t, 2.0 * logits.ByteLength / t / 1e9, "GB/s"));
            }
            {
                int n = 64 * 1024 * 1024 / s;
                using var p = Rand(new Shape(n), DType.F32, 0.02);
                using var g = Rand(new Shape(n), DType.F32, 0.01);
                using var m = TensorScope.Unscoped(() => be.Zeros(p.Shape, DType.F32));
                using var v = TensorScope.Unscoped(() => be.Zeros(p.Shape, DType.F32));
                var slots = new[] { new AdamWSlot(p, g, m, v, 0.01f) };
                int step = 0;
                double t = Time(be, () => be.AdamW(slots, new AdamWHyper(1e-4f, 0.9f, 0.999f, 1e-8f, ++step, 1f)));
                Report(new("adamw", $"{n / (1 << 20)}M params", t, 28.0 * n / t / 1e9, "GB/s"));
            }
            {
                // LoRA r=16 on the 7B shape: 32 layers × 7 projections × (A, B), the optimizer's list of 448 tensors: the
                // multi-tensor launches against one launch per tensor, and the device norm against a read per tensor.
                int layers = small ? 2 : 32, r = 16;
                var dims = new[] { (4096, 4096), (4096, 4096), (4096, 4096), (4096, 4096), (4096, 11008), (4096, 11008), (11008, 4096) };
                var owned = new List<Tensor>();
                var slots = new List<AdamWSlot>();
                for (int l = 0; l < layers; l++)
                    foreach (var (din, dout) in dims)
                        foreach (var shape in new[] { new Shape(r, din), new Shape(dout, r) })
                        {
                            // constant values filled on the device: 1,792 random uploads would cost the stage seconds
                            var t4 = Enumerable.Range(0, 4).Select(_ => TensorScope.Unscoped(() => be.Empty(shape, DType.F32))).ToArray();
                            owned.AddRange(t4);
                            be.Fill(t4[0], 0.02f);
                            be.Fill(t4[1], 0.01f);
                            be.Fill(t4[2], 0f);
                            be.Fill(t4[3], 0f);
                            slots.Add(new AdamWSlot(t4[0], t4[1], t4[2], t4[3], 0.01f));
                        }
                try
                {
                    long total = slots.Sum(x => x.Param.NumElements);
                    string size = $"{slots.Count} tensors, {total / 1e6:F1}M";
                    int step = 0;
                    double t = Time(be, () => be.AdamW(slots, new AdamWHyper(1e-4f, 0.9f, 0.999f, 1e-8f, ++step, 1f)));
                    Report(new("adamw lora list", size, t, 28.0 * total / t / 1e9, "GB/s"));
                    if (be is Backends.Cuda.IlgpuBackend ilgpu)
                    {
                        t = Time(be, () => ilgpu.AdamWPerTensor(slots, new AdamWHyper(1e-4f, 0.9f, 0.999f, 1e-8f, ++step, 1f)));
                        Report(new("adamw lora list per-tensor", size, t, 28.0 * total / t / 1e9, "GB/s"));
                    }
                    var grads = slots.Select(x => x.Grad).ToList();
                    using var acc = TensorScope.Unscoped(() => be.Zeros(new Shape(SplitDouble.Elements(1)), DType.F32));
                    t = Time(be, () => be.SumSquaresInto(grads, acc, 0));
                    Report(new("grad norm lora list", size, t, 4.0 * total / t / 1e9, "GB/s"));
                    t = Time(be, () => { foreach (var g in grads) be.SumSquares(g); });
                    Report(new("grad norm read per tensor", size, t, 4.0 * total / t / 1e9, "GB/s"));
                }
                finally
                {
                    foreach (var x in owned) x.Dispose();
                }
            }
            foreach (bool dq in new[] { false, true })
            {
                int rows = small ? 1024 : 11008, cols = small ? 512 : 4096;
                var host = new float[(long)rows * cols];
                new Rng(5).FillNormal(host, 0, 0.02);
                using var w = Nn.Nf4Linear.Upload(be, Quant.Nf4Weight.Quantize(host, rows, cols, dq));
                foreach (int m in new[] { 1, 16 })
                {
                    using var x = Rand(new Shape(m, cols), act);
                    using var y = TensorScope.Unscoped(() => be.Empty(new Shape(m, rows), act));
                    double t = Time(be, () => be.Nf4MatMul(x, w.Weight, true, y));
                    Report(new($"nf4{(dq ? "+dq" : "")} x·Wᵀ m={m}", $"{rows}×{cols}", t, w.ByteSize / t / 1e9, "GB/s of weight"));
                }
            }
            foreach (int seq in small ? new[] { 128 } : new[] { 1024, 2048 })
            {
                int b = 4, h = 32, dh = 128;
                using var q = Rand(new Shape(b, seq, h, dh), act);
                using var k = Rand(new Shape(b, seq, h, dh), act);
                using var v = Rand(new Shape(b, seq, h, dh), act);
                using var o = TensorScope.Unscoped(() => be.Empty(q.Shape, act));
                using var lse = TensorScope.Unscoped(() => be.Empty(new Shape(b, h, seq), DType.F32));
                double flops = 4.0 * b * h * (double)seq * seq * dh / 2; // causal: half the score matrix
                // Which attention kernels ran: a tiled call that fell back to the simple kernels must not pass for tiled.
                var gpu = be as Backends.Cuda.IlgpuBackend;
                string fwdKernel = gpu is null ? "" : $", {gpu.AttentionKernelFor(dh).ToString().ToLowerInvariant()}";
                string bwdKernel = gpu is null ? "" : $", {gpu.AttentionKernelFor(dh, backward: true).ToString().ToLowerInvariant()}";
                double t = Time(be, () => be.AttentionForward(q, k, v, 0.088f, o, lse), iters: 3);
                Report(new($"attention fwd (causal{fwdKernel})", $"b{b} h{h} d{dh} s{seq}", t, flops / t / 1e12, "TFLOP/s"));
                using var dq = TensorScope.Unscoped(() => be.Empty(q.Shape, act));
                using var dk = TensorScope.Unscoped(() => be.Empty(q.Shape, act));
                using var dv = TensorScope.Unscoped(() => be.Empty(q.Shape, act));
                // The tensor-core kernels beside them while they are not the default (issue 12): same calls, Mma selected;
                // on a GPU only (the CPU accelerator emulates mma.sync with warp shuffles, far too slow at this size).
                if (gpu is { IsCuda: true } && gpu.Attention != Backends.Cuda.AttentionKernel.Mma)
                {
                    var saved = gpu.Attention;
                    gpu.Attention = Backends.Cuda.AttentionKernel.Mma;
                    try
                    {
                        string mmaKernel = gpu.AttentionKernelFor(dh).ToString().ToLowerInvariant();
                        string mmaBwdKernel = gpu.AttentionKernelFor(dh, backward: true).ToString().ToLowerInvariant();
                        double tm = Time(be, () => be.AttentionForward(q, k, v, 0.088f, o, lse), iters: 3);
                        Report(new($"attention fwd (causal, {mmaKernel})", $"b{b} h{h} d{dh} s{seq}", tm, flops / tm / 1e12, "TFLOP/s"));
                        double tmb = Time(be, () => be.AttentionBackward(o, q, k, v, o, lse, 0.088f, dq, dk, dv), iters: 3);
                        Report(new($"attention bwd (causal, {mmaBwdKernel})", $"b{b} h{h} d{dh} s{seq}", tmb, 2.5 * flops / tmb / 1e12, "TFLOP/s"));
                        Report(new($"attention fwd+bwd (causal, {mmaKernel})", $"b{b} h{h} d{dh} s{seq}", tm + tmb, 3.5 * flops / (tm + tmb) / 1e12, "TFLOP/s"));
                    }
                    finally
                    {
                        gpu.Attention = saved;
                    }
                }
                double tb = Time(be, () => be.AttentionBackward(o, q, k, v, o, lse, 0.088f, dq, dk, dv), iters: 3);
                Report(new($"attention bwd (causal{bwdKernel})", $"b{b} h{h} d{dh} s{seq}", tb, 2.5 * flops / tb / 1e12, "TFLOP/s"));
                // The figure PyTorch's peer bench reports for training: forward and backward together.
                Report(new("attention fwd+bwd (causal)", $"b{b} h{h} d{dh} s{seq}", t + tb, 3.5 * flops / (t + tb) / 1e12, "TFLOP/s"));

                // Packed rows of 256-token samples: only the diagonal blocks are visible, and masked tiles are skipped,
                // so the rate over the visible scores should stay near the causal one (and the time drop ~seq/256-fold).
                const int sample = 256;
                if (seq % sample == 0 && seq > sample)
                {
                    var starts = new int[b * seq];
                    for (int i = 0; i < starts.Length; i++) starts[i] = i % seq / sample * sample;
                    using var st = TensorScope.Unscoped(() => be.FromInts(starts, new Shape(starts.Length)));
                    var mask = new AttentionMask(st, 0);
                    double packedFlops = flops * sample / seq;
                    double tp = Time(be, () => be.AttentionForward(q, k, v, 0.088f, o, lse, mask), iters: 3);
                    Report(new($"attention fwd (packed {sample}{fwdKernel})", $"b{b} h{h} d{dh} s{seq}", tp, packedFlops / tp / 1e12, "TFLOP/s"));
                    double tpb = Time(be, () => be.AttentionBackward(o, q, k, v, o, lse, 0.088f, dq, dk, dv, mask), iters: 3);
                    Report(new($"attention bwd (packed {sample}{bwdKernel})", $"b{b} h{h} d{dh} s{seq}", tpb, 2.5 * packedFlops / tpb / 1e12, "TFLOP/s"));
                }
            }
        }
        catch (Exception e)
        {
            log.WriteLine($"kernel bench stopped: {e.GetType().Name}: {e.Message}");
        }
        return results;
    }

    /// <summary>Median seconds of <paramref name="iters"/> synchronised runs after one warm-up.</summary>
    public static double Time(IBackend be, Action op, int iters = 5)
    {
        op();
        be.Synchronize();
        var t = new double[iters];
        for (int i = 0; i < iters; i++)
        {
            var sw = Stopwatch.StartNew();
            op();
            be.Synchronize();
            t[i] = sw.Elapsed.TotalSeconds;
        }
        Array.Sort(t);
        return t[iters / 2];
    }
}
