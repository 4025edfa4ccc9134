using System.Diagnostics;
using Engine.Backends.Cpu;
using Engine.Backends;
using Engine.Tensors;

namespace Engine.Diagnostics;

/// <summary>A pair of tensors holding the same values: one on the candidate backend (in the dtype under test), one on
/// the CPU reference (always f32, or i32).</summary>
internal readonly record struct TensorPair(Tensor C, Tensor R);

/// <summary>Makes identical random inputs on a candidate backend and on the CPU backend, and compares outputs.
/// Inputs are rounded through the candidate's dtype first, so both backends compute from exactly the same numbers and
/// only the arithmetic differs.
///
/// Error metric: max over elements of |c − r| / (|r| + mean|r|). The mean in the denominator keeps elements that are
/// near zero by cancellation from dominating, while an error on a typical element still counts relative to its size.
/// Tolerances: bf16/fp16 outputs 2e-2 (one rounding of the output costs up to 2^-9 ≈ 2e-3; the rest is headroom for
/// accumulation order). fp32 outputs 1e-5: the backends differ only in summation order, FMA contraction and the
/// GPU's exp/log (ex2.approx/lg2.approx, ~2 ulp plus argument rounding); a length-K fp32 sum in another order moves
/// by about √K·6e-8, 4e-6 at K = 4096, so 1e-5 leaves 2–3× margin at the sizes used while any indexing or formula
/// error (≥ 1e-3) still fails. A non-finite candidate value never passes.</summary>
internal sealed class SelfTestHarness
{
    public const double F32Tolerance = 1e-5;
    public const double HalfTolerance = 2e-2;

    private readonly List<SelfTestResult> _results;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public SelfTestHarness(IBackend candidate, SelfTestSize size, ulong seed, List<SelfTestResult> results)
    {
        C = candidate;
        Size = size;
        Rng = new Rng(seed);
        _results = results;
    }

    public IBackend C { get; }
    public CpuBackend R => CpuBackend.Instance;
    public SelfTestSize Size { get; }
    public bool Tiny => Size == SelfTestSize.Tiny;
    public Rng Rng { get; }
    public DType Act => C.ActivationType;

    public void RestartClock() => _clock.Restart();

    public TensorPair Random(Shape shape, DType dtype, double std = 1.0, double mean = 0.0)
    {
        var v = new float[shape.NumElements];
        Rng.FillNormal(v, mean, std);
        return Values(v, shape, dtype);
    }

    public TensorPair Uniform(Shape shape, DType dtype, double low, double high)
    {
        var v = new float[shape.NumElements];
        Rng.FillUniform(v, low, high);
        return Values(v, shape, dtype);
    }

    public TensorPair Values(float[] v, Shape shape, DType dtype)
    {
        var rounded = RoundTo(v, dtype);
        return new TensorPair(C.FromFloats(rounded, shape, dtype), R.FromFloats(rounded, shape, DType.F32));
    }

    public TensorPair Ints(int[] v, Shape shape) => new(C.FromInts(v, shape), R.FromInts(v, shape));

    /// <summary>Outputs: the candidate's in <paramref name="dtype"/>, the reference's in f32.</summary>
    public TensorPair Output(Shape shape, DType dtype) => new(C.Empty(shape, dtype), R.Empty(shape, DType.F32));

    public static float[] RoundTo(float[] v, DType dtype)
    {
        var r = (float[])v.Clone();
        for (int i = 0; i < r.Length; i++)
        {
            r[i] = dtype switch
            {
                DType.BF16 => HalfConversions.BF16ToFloat(HalfConversions.FloatToBF16(r[i])),
                DType.F16 => HalfConversions.F16ToFloat(HalfConversions.FloatToF16(r[i])),
                _ => r[i],
            };
        }
        return r;
    }

    public static float[] Read(IBackend b, Tensor t)
    {
        var v = new float[t.NumElements];
        b.ToFloats(t, v);
        return v;
    }

    /// <summary>Compares candidate and reference with the metric above; the tolerance follows the candidate output's
    /// dtype unless <paramref name="tolerance"/> is given.</summary>
    public void Check(string op, TensorPair p, string? dtypeLabel = null, double? tolerance = null)
    {
        var c = Read(C, p.C);
        var r = Read(R, p.R);
        double tol = tolerance ?? (p.C.DType == DType.F32 ? F32Tolerance : HalfTolerance);
        var (err, note) = MaxRelativeError(c, r);
        Record(op, p.C.Shape.ToString(), dtypeLabel ?? p.C.DType.Name(), err, tol, note);
    }

    /// <summary>Bit-exact comparison of floats (for conversions): the "error" is the fraction of elements that differ.</summary>
    public void CheckExact(string op, float[] actual, float[] expected, string shape, string dtype)
    {
        int bad = 0;
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i])) bad++;
        Record(op, shape, dtype, expected.Length == 0 ? 0 : (double)bad / expected.Length, 0,
               bad == 0 ? null : $"{bad} of {expected.Length} values differ (first at {FirstDiff(actual, expected)})");
    }

    private static string FirstDiff(float[] a, float[] e)
    {
        for (int i = 0; i < e.Length; i++)
            if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(e[i])) return $"[{i}]: {a[i]:R} vs {e[i]:R}";
        return "-";
    }

    public void CheckScalar(string op, double actual, double expected, string shape, string dtype, double tolerance)
    {
        double err = Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), 1e-30);
        bool finite = double.IsFinite(actual);
        Record(op, shape, dtype, finite ? err : double.NaN, tolerance, finite ? null : $"got {actual}");
    }

    public void Record(string op, string shape, string dtype, double err, double tol, string? note)
    {
        bool pass = !double.IsNaN(err) && err <= tol;
        _results.Add(new SelfTestResult(op, shape, dtype, err, tol, pass, _clock.Elapsed.TotalMilliseconds, note));
        _clock.Restart();
    }

    /// <summary>The metric described on the class; NaN (with a note) when either side has a non-finite value.</summary>
    public static (double Error, string? Note) MaxRelativeError(ReadOnlySpan<float> c, ReadOnlySpan<float> r)
    {
        if (c.Length != r.Length) return (double.NaN, $"{c.Length} values against {r.Length}");
        double mean = 0;
        foreach (var x in r) mean += Math.Abs(x);
        mean = r.Length == 0 ? 0 : mean / r.Length;
        double worst = 0;
        for (int i = 0; i < c.Length; i++)
        {
            if (!float.IsFinite(c[i]) || !float.IsFinite(r[i])) return (double.NaN, $"non-finite value at [{i}]: {c[i]} vs reference {r[i]}");
            double denom = Math.Abs(r[i]) + mean;
            double e = denom == 0 ? Math.Abs(c[i]) : Math.Abs(c[i] - r[i]) / denom;
            if (e > worst) worst = e;
        }
        return (worst, null);
    }
}
