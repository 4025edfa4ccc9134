using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Backends;
using Engine.Tensors;

namespace Engine.Diagnostics;

/// <summary>The self-test cases: each builds identical inputs on both backends, runs one op family the way the
/// autograd layer calls it (activations in the candidate's activation dtype, gradients and optimizer state in f32),
/// and checks every output.</summary>
internal static partial class SelfTestCases
{
    private sealed record Dims(int Elems, int M, int K, int N, int Batch, int Rows, int Dim, int Vocab, int EmbDim, int Tokens,
                               int RopeHeads, int HeadDim, int MaxPos, int AttB, int Tq, int Tk, int H, int Hkv, int Dh,
                               int CeRows, int CeVocab, int AdamN);

    private static readonly Dims TinyDims = new(300, 7, 9, 5, 3, 6, 40, 20, 12, 9, 3, 8, 16, 2, 5, 7, 4, 2, 8, 6, 50, 100);
    private static readonly Dims RealDims = new(1 << 20, 256, 384, 512, 4, 256, 2048, 32000, 512, 256, 8, 64, 512, 2, 128, 160, 8, 2, 64, 64, 32000, 1 << 20);

    private static Dims D(SelfTestHarness h) => h.Tiny ? TinyDims : RealDims;

    private static readonly (string Name, Action<SelfTestHarness> Body)[] Cases =
    {
        ("convert", Convert),
        ("add", h => Binary(h, "add", (b, x, y, o) => b.Add(x, y, o))),
        ("mul", h => Binary(h, "mul", (b, x, y, o) => b.Mul(x, y, o))),
        ("scale", Scale),
        ("axpy", Axpy),
        ("dropout", Dropout),
        ("broadcast_scalar", BroadcastScalar),
        ("sum", Sum),
        ("matmul", MatMul),
        ("embedding", Embedding),
        ("rmsnorm", RmsNorm),
        ("rope", Rope),
        ("attention", Attention),
        ("swiglu", SwiGlu),
        ("cross_entropy", CrossEntropy),
        ("adamw", AdamW),
        ("nf4", Nf4),
    };

    public static readonly IReadOnlyList<string> Names = Cases.Select(c => c.Name).ToArray();

    public static void Run(string name, SelfTestHarness h)
    {
        foreach (var c in Cases)
            if (c.Name == name) { h.RestartClock(); c.Body(h); return; }
        throw new ArgumentException($"no self-test case named {name}");
    }

    // ---- memory and conversions ----------------------------------------------------------------------------

    private static void Convert(SelfTestHarness h)
    {
        int n = D(h).Elems;
        var v = new float[n];
        h.Rng.FillNormal(v, 0, 3);
        // Values that exercise rounding: ties at bf16 and fp16 precision, subnormals, the largest halves, infinities.
        float[] special = { 0f, -0f, 1f + 1f / 256, 1f + 3f / 256, 1f + 1f / 2048, 65504f, 65520f, -65519.9f, 1e-40f, -3e-39f,
                            6e-8f, 3e-8f, 1e-5f, float.PositiveInfinity, float.NegativeInfinity, 3.3e38f, 1.0000001f };
        special.AsSpan(0, Math.Min(special.Length, n)).CopyTo(v);
        var shape = new Shape(n);
        foreach (var dt in new[] { DType.F32, DType.BF16, DType.F16 })
        {
            using var t = h.C.FromFloats(v, shape, dt);
            h.CheckExact("from_floats/to_floats", SelfTestHarness.Read(h.C, t), SelfTestHarness.RoundTo(v, dt), shape.ToString(), dt.Name());
        }
        using var f = h.C.FromFloats(v, shape, DType.F32);
        foreach (var dt in new[] { DType.BF16, DType.F16 })
        {
            using var lo = h.C.Empty(shape, dt);
            h.C.Copy(f, lo);
            var expect = SelfTestHarness.RoundTo(v, dt);
            h.CheckExact($"copy f32→{dt.Name()}", SelfTestHarness.Read(h.C, lo), expect, shape.ToString(), dt.Name());
            using var back = h.C.Empty(shape, DType.F32);
            h.C.Copy(lo, back);
            h.CheckExact($"copy {dt.Name()}→f32", SelfTestHarness.Read(h.C, back), expect, shape.ToString(), "f32");
        }

        var ints = Enumerable.Range(0, n).Select(i => (i * 7919) % 100003 - 50000).ToArray();
        using var ti = h.C.FromInts(ints, shape);
        var gotInts = new int[n];
        h.C.ToInts(ti, gotInts);
        h.Record("from_ints/to_ints", shape.ToString(), "i32", gotInts.SequenceEqual(ints) ? 0 : 1, 0, null);
        h.CheckExact("to_floats(i32)", SelfTestHarness.Read(h.C, ti), ints.Select(i => (float)i).ToArray(), shape.ToString(), "i32");

        var bytes = new byte[n * 2];
        new Random(5).NextBytes(bytes);
        using var tb = h.C.FromBytes(bytes, shape, DType.BF16);
        var gotBytes = new byte[bytes.Length];
        h.C.ToBytes(tb, gotBytes);
        h.Record("from_bytes/to_bytes", shape.ToString(), "bf16", gotBytes.AsSpan().SequenceEqual(bytes) ? 0 : 1, 0, null);

        using var filled = h.C.Empty(shape, h.Act);
        h.C.Fill(filled, 1.7f);
        h.CheckExact("fill", SelfTestHarness.Read(h.C, filled), SelfTestHarness.RoundTo(Enumerable.Repeat(1.7f, n).ToArray(), h.Act), shape.ToString(), h.Act.Name());
        using var zeros = h.C.Zeros(shape, DType.F32);
        h.CheckExact("zeros", SelfTestHarness.Read(h.C, zeros), new float[n], shape.ToString(), "f32");

        // A view in the middle of a storage: offsets must reach the kernels.
        using var whole = h.C.FromFloats(v.AsSpan(0, n / 3 * 3), new Shape(n / 3, 3), DType.F32);
        using var slice = whole.Slice(1, n / 3 - 2);
        using var scaled = h.C.Empty(slice.Shape, DType.F32);
        h.C.Scale(slice, 2f, scaled);
        h.CheckExact("view offset (scale)", SelfTestHarness.Read(h.C, scaled), v.Skip(3).Take((int)slice.NumElements).Select(x => x * 2f).ToArray(),
                     slice.Shape.ToString(), "f32");
    }

    // ---- elementwise ---------------------------------------------------------------------------------------

    private static void Binary(SelfTestHarness h, string op, Action<IBackend, Tensor, Tensor, Tensor> f)
    {
        var s = new Shape(D(h).Elems);
        var a = h.Random(s, h.Act);
        var b = h.Random(s, h.Act);
        var y = h.Output(s, h.Act);
        f(h.C, a.C, b.C, y.C);
        f(h.R, a.R, b.R, y.R);
        h.Check(op, y);
        // Mixed inputs: an f32 tensor (a gradient) with an activation.
        var a32 = h.Random(s, DType.F32);
        var y32 = h.Output(s, DType.F32);
        f(h.C, a32.C, b.C, y32.C);
        f(h.R, a32.R, b.R, y32.R);
        h.Check(op, y32, $"f32,{h.Act.Name()}→f32");
    }

    private static void Scale(SelfTestHarness h)
    {
        var s = new Shape(D(h).Elems);
        var x = h.Random(s, h.Act);
        var y = h.Output(s, h.Act);
        h.C.Scale(x.C, 0.37f, y.C);
        h.R.Scale(x.R, 0.37f, y.R);
        h.Check("scale", y);
    }

    private static void Axpy(SelfTestHarness h)
    {
        var s = new Shape(D(h).Elems);
        var x = h.Random(s, h.Act);
        var y = h.Random(s, DType.F32);
        h.C.Axpy(-0.5f, x.C, y.C);
        h.R.Axpy(-0.5f, x.R, y.R);
        h.Check("axpy (accumulate into f32)", y, $"{h.Act.Name()}→f32");
    }

    private static void Dropout(SelfTestHarness h)
    {
        var s = new Shape(D(h).Elems);
        var x = h.Random(s, h.Act, mean: 3.0); // away from zero, so a zero output means a dropped element
        var y = h.Output(s, h.Act);
        h.C.Dropout(x.C, 0.3f, 12345UL, y.C);
        h.R.Dropout(x.R, 0.3f, 12345UL, y.R);
        h.Check("dropout", y);
        var c = SelfTestHarness.Read(h.C, y.C);
        var r = SelfTestHarness.Read(h.R, y.R);
        int differ = 0;
        for (int i = 0; i < c.Length; i++) if ((c[i] == 0f) != (r[i] == 0f)) differ++;
        h.Record("dropout mask", s.ToString(), h.Act.Name(), differ, 0, differ == 0 ? null : $"{differ} mask bits differ");
    }

    private static void BroadcastScalar(SelfTestHarness h)
    {
        var sc = h.Random(new Shape(1), DType.F32);
        var y = h.Output(new Shape(D(h).Elems), h.Act);
        h.C.BroadcastScalar(sc.C, 0.25f, y.C);
        h.R.BroadcastScalar(sc.R, 0.25f, y.R);
        h.Check("broadcast_scalar", y);
    }

    private static void Sum(SelfTestHarness h)
    {
        var s = new Shape(D(h).Elems);
        var x = h.Random(s, h.Act, mean: 0.5);
        var y = h.Output(new Shape(1), DType.F32);
        h.C.Sum(x.C, y.C);
        h.R.Sum(x.R, y.R);
        h.Check("sum", y, $"{h.Act.Name()}→f32");
        h.CheckScalar("sum_squares", h.C.SumSquares(x.C), h.R.SumSquares(x.R), s.ToString(), h.Act.Name(), SelfTestHarness.F32Tolerance);
    }

    // ---- matmul --------------------------------------------------------------------------------------------

    /// <summary>On a CUDA <see cref="IlgpuBackend"/> every GEMM implementation is checked (cuBLAS GemmEx, cuBLASLt,
    /// the ILGPU kernel); elsewhere the backend's own choice.</summary>
    private static void MatMul(SelfTestHarness h)
    {
        if (h.C is not IlgpuBackend { IsCuda: true } gpu) { MatMulVariants(h, ""); return; }
        var saved = gpu.GemmPath;
        try
        {
            foreach (var path in new[] { GemmPath.CublasGemmEx, GemmPath.CublasLt, GemmPath.Kernel })
            {
                gpu.GemmPath = path;
                try
                {
                    MatMulVariants(h, $" [{path}]");
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // One broken path (say cuBLASLt missing) must not hide the others.
                    h.Record($"matmul [{path}]", "-", h.Act.Name(), double.NaN, 0, $"{e.GetType().Name}: {e.Message.Split('\n')[0]}");
                }
            }
        }
        finally
        {
            gpu.GemmPath = saved;
        }
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

    // ---- model primitives ----------------------------------------------------------------------------------

    private static void Embedding(SelfTestHarness h)
    {
        var d = D(h);
        int v = d.Vocab, dim = d.EmbDim, n = d.Tokens;
        var ids = Enumerable.Range(0, n).Select(i => h.Rng.NextInt(Math.Max(1, v / 3))).ToArray(); // repeats on purpose
        var tid = h.Ints(ids, new Shape(n));
        foreach (var wt in new[] { DType.F32, h.Act }.Distinct())
        {
            var w = h.Random(new Shape(v, dim), wt);
            var y = h.Output(new Shape(n, dim), h.Act);
            h.C.EmbeddingForward(w.C, tid.C, y.C);
            h.R.EmbeddingForward(w.R, tid.R, y.R);
            h.Check("embedding", y, $"w {wt.Name()}→{h.Act.Name()}");
        }
        var dy = h.Random(new Shape(n, dim), h.Act);
        var dw = h.Random(new Shape(v, dim), DType.F32);
        h.C.EmbeddingBackward(dy.C, tid.C, dw.C);
        h.R.EmbeddingBackward(dy.R, tid.R, dw.R);
        h.Check("embedding backward (accumulate)", dw, $"{h.Act.Name()}→f32");
    }

    private static void RmsNorm(SelfTestHarness h)
    {
        var d = D(h);
        var xs = new Shape(d.Rows, d.Dim);
        var x = h.Random(xs, h.Act);
        foreach (var wt in new[] { DType.F32, h.Act }.Distinct())
        {
            var w = h.Random(new Shape(d.Dim), wt, std: 0.2, mean: 1.0);
            var y = h.Output(xs, h.Act);
            var rstd = h.Output(new Shape(d.Rows), DType.F32);
            h.C.RmsNormForward(x.C, w.C, 1e-5f, y.C, rstd.C);
            h.R.RmsNormForward(x.R, w.R, 1e-5f, y.R, rstd.R);
            h.Check("rmsnorm", y, $"x {h.Act.Name()}, w {wt.Name()}");
            h.Check("rmsnorm rstd", rstd);
        }
        var w32 = h.Random(new Shape(d.Dim), DType.F32, std: 0.2, mean: 1.0);
        var rs = h.Output(new Shape(d.Rows), DType.F32);
        var yy = h.Output(xs, DType.F32);
        h.R.RmsNormForward(x.R, w32.R, 1e-5f, yy.R, rs.R);
        var rsC = h.C.FromFloats(SelfTestHarness.Read(h.R, rs.R), rs.R.Shape, DType.F32);
        var dy = h.Random(xs, h.Act);
        var dx = h.Output(xs, h.Act);
        var dw = h.Random(new Shape(d.Dim), DType.F32);
        h.C.RmsNormBackward(dy.C, x.C, w32.C, rsC, dx.C, dw.C);
        h.R.RmsNormBackward(dy.R, x.R, w32.R, rs.R, dx.R, dw.R);
        h.Check("rmsnorm backward dx", dx);
        h.Check("rmsnorm backward dw (accumulate)", dw);
    }

    private static void Rope(SelfTestHarness h)
    {
        var d = D(h);
        int n = d.Tokens, heads = d.RopeHeads, dh = d.HeadDim, half = dh / 2, maxPos = d.MaxPos;
        var cos = new float[maxPos * half];
        var sin = new float[maxPos * half];
        for (int p = 0; p < maxPos; p++)
            for (int i = 0; i < half; i++)
            {
                double theta = p * Math.Pow(10000, -2.0 * i / dh);
                cos[p * half + i] = (float)Math.Cos(theta);
                sin[p * half + i] = (float)Math.Sin(theta);
            }
        var tc = h.Values(cos, new Shape(maxPos, half), DType.F32);
        var ts = h.Values(sin, new Shape(maxPos, half), DType.F32);
        var pos = h.Ints(Enumerable.Range(0, n).Select(_ => h.Rng.NextInt(maxPos)).ToArray(), new Shape(n));
        var xs = new Shape(n, heads, dh);
        var x = h.Random(xs, h.Act);
        foreach (var inverse in new[] { false, true })
        {
            var y = h.Output(xs, h.Act);
            h.C.Rope(x.C, pos.C, tc.C, ts.C, y.C, inverse);
            h.R.Rope(x.R, pos.R, tc.R, ts.R, y.R, inverse);
            h.Check(inverse ? "rope inverse" : "rope", y);
        }
    }

    /// <summary>On an <see cref="IlgpuBackend"/> both attention kernels (tiled and simple) are checked; elsewhere the
    /// backend's own. Shapes: causal with GQA and Tk &gt; Tq, plus (realistic size) Dh 128 with several query and key
    /// tiles, the shape training runs.</summary>
    private static void Attention(SelfTestHarness h)
    {
        if (h.C is not IlgpuBackend gpu) { AttentionShapes(h, ""); return; }
        var saved = gpu.Attention;
        try
        {
            foreach (var kernel in new[] { AttentionKernel.Tiled, AttentionKernel.Simple })
            {
                gpu.Attention = kernel;
                try
                {
                    AttentionShapes(h, $" [{kernel}]");
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    h.Record($"attention [{kernel}]", "-", h.Act.Name(), double.NaN, 0, $"{e.GetType().Name}: {e.Message.Split('\n')[0]}");
                }
            }
        }
        finally
        {
            gpu.Attention = saved;
        }
    }

    private static void AttentionShapes(SelfTestHarness h, string suffix)
    {
        var d = D(h);
        AttentionCase(h, suffix, d.AttB, d.Tq, d.Tk, d.H, d.Hkv, d.Dh);
        if (!h.Tiny) AttentionCase(h, suffix, 1, 192, 192, 4, 2, 128);
    }

    private static void AttentionCase(SelfTestHarness h, string suffix, int batch, int tq, int tk, int heads, int kvHeads, int dh)
    {
        var qs = new Shape(batch, tq, heads, dh);
        var ks = new Shape(batch, tk, kvHeads, dh);
        float scale = 1f / MathF.Sqrt(dh);
        var q = h.Random(qs, h.Act);
        var k = h.Random(ks, h.Act);
        var v = h.Random(ks, h.Act);
        var o = h.Output(qs, h.Act);
        var lse = h.Output(new Shape(batch, heads, tq), DType.F32);
        h.C.AttentionForward(q.C, k.C, v.C, scale, o.C, lse.C);
        h.R.AttentionForward(q.R, k.R, v.R, scale, o.R, lse.R);
        h.Check($"attention (causal{(heads != kvHeads ? ", gqa" : "")}{(tk > tq ? ", Tk>Tq" : "")}){suffix}", o);
        h.Check($"attention lse{suffix}", lse);

        var oNoLse = h.Output(qs, h.Act);
        h.C.AttentionForward(q.C, k.C, v.C, scale, oNoLse.C, null);
        h.R.AttentionForward(q.R, k.R, v.R, scale, oNoLse.R, null);
        h.Check($"attention without lse{suffix}", oNoLse);

        // Backward from the reference forward's o and lse, so both sides differentiate the same point.
        var oRef = h.Values(SelfTestHarness.Read(h.R, o.R), qs, h.Act);
        var lseRef = h.Values(SelfTestHarness.Read(h.R, lse.R), lse.R.Shape, DType.F32);
        var dO = h.Random(qs, h.Act);
        var dq = h.Output(qs, h.Act);
        var dk = h.Output(ks, h.Act);
        var dv = h.Output(ks, h.Act);
        h.C.AttentionBackward(dO.C, q.C, k.C, v.C, oRef.C, lseRef.C, scale, dq.C, dk.C, dv.C);
        h.R.AttentionBackward(dO.R, q.R, k.R, v.R, oRef.R, lseRef.R, scale, dq.R, dk.R, dv.R);
        h.Check($"attention backward dq{suffix}", dq);
        h.Check($"attention backward dk{suffix}", dk);
        h.Check($"attention backward dv{suffix}", dv);
    }

    private static void SwiGlu(SelfTestHarness h)
    {
        var s = new Shape(D(h).Elems);
        var g = h.Random(s, h.Act, std: 2);
        var u = h.Random(s, h.Act);
        var y = h.Output(s, h.Act);
        h.C.SwiGluForward(g.C, u.C, y.C);
        h.R.SwiGluForward(g.R, u.R, y.R);
        h.Check("swiglu", y);
        var dy = h.Random(s, h.Act);
        var dg = h.Output(s, h.Act);
        var du = h.Output(s, h.Act);
        h.C.SwiGluBackward(dy.C, g.C, u.C, dg.C, du.C);
        h.R.SwiGluBackward(dy.R, g.R, u.R, dg.R, du.R);
        h.Check("swiglu backward dgate", dg);
        h.Check("swiglu backward dup", du);
    }

    private static void CrossEntropy(SelfTestHarness h)
    {
        var d = D(h);
        int n = d.CeRows, v = d.CeVocab;
        const int ignore = -100;
        var targets = Enumerable.Range(0, n).Select(i => i == 1 ? ignore : h.Rng.NextInt(v)).ToArray();
        var t = h.Ints(targets, new Shape(n));
        var logits = h.Random(new Shape(n, v), h.Act, std: 2);
        var loss = h.Output(new Shape(1), DType.F32);
        var lse = h.Output(new Shape(n), DType.F32);
        h.C.CrossEntropyForward(logits.C, t.C, ignore, loss.C, lse.C);
        h.R.CrossEntropyForward(logits.R, t.R, ignore, loss.R, lse.R);
        h.Check("cross_entropy loss (sum)", loss);
        h.Check("cross_entropy lse", lse);

        var lseRef = h.Values(SelfTestHarness.Read(h.R, lse.R), lse.R.Shape, DType.F32);
        var gs = h.Values(new[] { 1f / (n - 1) }, new Shape(1), DType.F32);
        var dl = h.Output(new Shape(n, v), h.Act);
        h.C.CrossEntropyBackward(logits.C, t.C, ignore, lseRef.C, gs.C, dl.C);
        h.R.CrossEntropyBackward(logits.R, t.R, ignore, lseRef.R, gs.R, dl.R);
        h.Check("cross_entropy backward", dl);
    }

    private static void AdamW(SelfTestHarness h)
    {
        int n = D(h).AdamN;
        var sizes = new[] { n, n / 3 + 1 };
        var pc = new List<AdamWSlot>();
        var pr = new List<AdamWSlot>();
        var kept = new List<(TensorPair P, TensorPair M, TensorPair V)>();
        for (int i = 0; i < sizes.Length; i++)
        {
            var s = new Shape(sizes[i]);
            var p = h.Random(s, DType.F32);
            var g = h.Random(s, DType.F32, std: 0.1);
            var m = h.Random(s, DType.F32, std: 0.01);
            var v = h.Uniform(s, DType.F32, 1e-6, 1e-3);
            float wd = i == 0 ? 0.1f : 0f;
            pc.Add(new AdamWSlot(p.C, g.C, m.C, v.C, wd));
            pr.Add(new AdamWSlot(p.R, g.R, m.R, v.R, wd));
            kept.Add((p, m, v));
        }
        var hyper = new AdamWHyper(1e-3f, 0.9f, 0.999f, 1e-8f, 3, 0.8f);
        h.C.AdamW(pc, hyper);
        h.R.AdamW(pr, hyper);
        foreach (var (p, m, v) in kept)
        {
            h.Check("adamw param", p);
            h.Check("adamw m", m);
            h.Check("adamw v", v);
        }
    }
}
