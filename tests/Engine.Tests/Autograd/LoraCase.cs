using Engine.Autograd;
using Engine.Backends;
using Engine.Nn;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Autograd;

/// <summary>One LoRA layer on a backend, built from fixed host values, run either through the fused
/// <see cref="Ops.LoraLinear"/> (what <see cref="LoraLinear"/> does now) or through the composed ops it replaced, so
/// the two can be compared on forward output and every gradient. x is [2, 5, In] (three dimensions, so the op's
/// flattening of leading dimensions is exercised), B is random (not PEFT's zeros) so the adapter carries signal.</summary>
internal sealed class LoraCase : IDisposable
{
    public const int In = 64, Out = 48, Rank = 4, ModuleId = 3;
    public const float Scaling = 2f;
    public static readonly int[] XShape = { 2, 5, In };

    private readonly IBackend _be;
    private readonly float[] _x, _a, _b, _w, _r;
    private readonly IDisposable? _ownedBase;

    /// <param name="baseKind">dense, nf4 (double-quantized, bitsandbytes blocks of 64) or a ggml type name (q8_0, q4_0,
    /// …; CPU only).</param>
    /// <param name="trainableBase">a dense base whose fp32 weight wants a gradient (not what LoRA training does, but
    /// the op must not lose it).</param>
    public LoraCase(IBackend be, string baseKind, float dropout, bool trainableBase = false, ulong seed = 5)
    {
        _be = be;
        var rng = new Rng(seed);
        _x = Normal(rng, 2 * 5 * In, 1.0);
        _a = Normal(rng, Rank * In, 0.3);
        _b = Normal(rng, Out * Rank, 0.3);
        _w = Normal(rng, Out * In, 0.2);
        _r = Normal(rng, 2 * 5 * Out, 1.0);
        A = Leaf(_a, new Shape(Rank, In), DType.F32, true);
        B = Leaf(_b, new Shape(Out, Rank), DType.F32, true);
        X = Leaf(_x, new Shape(XShape), be.ActivationType, true);
        ILinear baseLinear;
        switch (baseKind)
        {
            case "dense":
                W = Leaf(_w, new Shape(Out, In), trainableBase ? DType.F32 : be.ActivationType, trainableBase);
                baseLinear = new Linear(W);
                break;
            case "nf4":
                using (var dense = Leaf(_w, new Shape(Out, In), DType.F32, false))
                {
                    var q = Nf4Linear.Quantize(dense, doubleQuant: true);
                    baseLinear = q;
                    _ownedBase = q;
                }
                break;
            default:
                var type = GgmlTypes.TryParse(baseKind, out var t) ? t : throw new ArgumentException($"no base kind {baseKind}");
                var bytes = new byte[type.RowSize(_w.Length)];
                GgmlBlocks.Quantize(type, _w, bytes, In);
                var g = new GgmlLinear(GgmlWeight.FromBytes("test.weight", type, Out, In, bytes));
                baseLinear = g;
                _ownedBase = g;
                break;
        }
        Layer = new LoraLinear(baseLinear, A, B, Scaling, dropout, ModuleId);
    }

    public Tensor X { get; }
    public Tensor A { get; }
    public Tensor B { get; }
    public Tensor? W { get; }
    public LoraLinear Layer { get; }
    public static ForwardContext Training { get; } = new(true, 41);

    public sealed record Result(float[] Y, float[] Dx, float[] DA, float[] DB, float[]? DW);

    /// <summary>Forward in training mode, then backward with a fixed random output gradient; fresh gradient buffers.</summary>
    public Result Run(bool fused)
    {
        foreach (var t in new[] { X, A, B, W })
            if (t is not null) { t.Grad?.Dispose(); t.Grad = null; }
        float[] y;
        using (var scope = new TensorScope())
        {
            var output = fused ? Layer.Forward(X, Training) : Composed(Layer, X, Training);
            y = Read(output);
            var r = _be.FromFloats(_r, output.Shape, _be.ActivationType);
            BackwardPass.Run(output, r);
        }
        return new Result(y, Read(X.Grad!), Read(A.Grad!), Read(B.Grad!), W is { RequiresGrad: true } ? Read(W.Grad!) : null);
    }

    /// <summary>LoraLinear's forward before the fused op, op for op: the reference the fused op must reproduce. One
    /// change: without dropout the old code multiplied x.Share(), a handle without x's GradFn, so the adapter's share
    /// of dx was lost; here x itself goes in, as the fused op (and the finite differences) have it.</summary>
    public static Tensor Composed(LoraLinear l, Tensor x, ForwardContext ctx)
    {
        var y = l.Base.Forward(x, ctx);
        bool drop = ctx.Training && l.Dropout > 0;
        var xd = drop ? Ops.Dropout(x, l.Dropout, ctx.SeedFor(l.ModuleId)) : x;
        using var h = Ops.LinearInActivationType(xd, l.A);
        if (drop) xd.Dispose();
        using var d = Ops.LinearInActivationType(h, l.B);
        using var s = Ops.Scale(d, l.Scaling);
        using (y) return Ops.Add(y, s);
    }

    /// <summary>max |a − b| / max |b|: the error of a whole tensor against its reference's scale.</summary>
    public static double RelativeError(float[] a, float[] b)
    {
        Assert.Equal(b.Length, a.Length);
        double worst = 0, scale = 1e-30;
        for (int i = 0; i < b.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs((double)a[i] - b[i]));
            scale = Math.Max(scale, Math.Abs(b[i]));
        }
        return worst / scale;
    }

    /// <summary>Asserts every tensor within <paramref name="tol"/>; returns the errors seen, for the test's output.</summary>
    public static string AssertClose(Result got, Result want, double tol)
    {
        var seen = new List<string>();
        void One(string what, float[]? g, float[]? w)
        {
            if (w is null) return;
            double e = RelativeError(g!, w);
            seen.Add($"{what} {e:E2}");
            Assert.True(e <= tol, $"{what}: relative error {e:E2} exceeds {tol:E1}");
        }
        One("y", got.Y, want.Y);
        One("dx", got.Dx, want.Dx);
        One("dA", got.DA, want.DA);
        One("dB", got.DB, want.DB);
        One("dW", got.DW, want.DW);
        return string.Join(", ", seen);
    }

    public float[] Read(Tensor t)
    {
        var v = new float[t.NumElements];
        _be.ToFloats(t, v);
        return v;
    }

    private Tensor Leaf(float[] v, Shape s, DType dtype, bool requiresGrad)
    {
        var t = TensorScope.Unscoped(() => _be.FromFloats(v, s, dtype));
        t.RequiresGrad = requiresGrad;
        return t;
    }

    private static float[] Normal(Rng rng, int n, double std)
    {
        var v = new float[n];
        rng.FillNormal(v, 0, std);
        return v;
    }

    public void Dispose()
    {
        foreach (var t in new[] { X, A, B, W })
        {
            if (t is null) continue;
            t.Grad?.Dispose();
            t.Dispose();
        }
        _ownedBase?.Dispose();
    }
}
