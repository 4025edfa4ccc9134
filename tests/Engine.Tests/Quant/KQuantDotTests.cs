using System.Buffers.Binary;
using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Quant;

/// <summary>KQuantDot on every ISA this machine runs, against a float64 Σ of GgmlBlocks.Dequantize(w) ·
/// Q8KActivations.Dequantize(xq). Tolerance: (8 + blocks)·2^-24·S, where S = Σ_i (|a_i| + |b_i|)·|x_i| for the
/// affine types (w_i = a_i - b_i, a_i = d·sc·q from the block with dmin zeroed, b_i = dmin·m from the block with d
/// zeroed) and S = Σ_i |w_i·x_i| for q3_K/q6_K: a few fp32 roundings per block (d_x·d, the int→float of the exact
/// integer sum, the product, the min term) plus one per block of fp32 accumulation, each at most 2^-24 of its share
/// of S; the reference's own fp32 dequantization rounds within the same bound. A wrong code, scale, min or offset
/// is off by a sizeable fraction of S.</summary>
public class KQuantDotTests
{
    private static readonly string[] TypeNames = [nameof(GgmlType.Q2_K), nameof(GgmlType.Q3_K), nameof(GgmlType.Q4_K), nameof(GgmlType.Q5_K), nameof(GgmlType.Q6_K)];

    public static TheoryData<string> Types => new(TypeNames);

    public static TheoryData<string, int, bool> Cases()
    {
        var data = new TheoryData<string, int, bool>();
        foreach (var t in TypeNames)
            foreach (int n in new[] { 256, 512, 4096 })
                foreach (bool raw in new[] { false, true })
                    data.Add(t, n, raw);
        return data;
    }

    private static DotIsa[] Isas => Enum.GetValues<DotIsa>().Where(i => i <= DotIsas.Detected).ToArray();

    /// <summary>Byte offsets of the fp16 d and (for the affine types) dmin fields in a block.</summary>
    private static (int D, int Dmin) HalfFields(GgmlType t) => t switch
    {
        GgmlType.Q2_K => (80, 82),
        GgmlType.Q3_K => (108, -1),
        GgmlType.Q4_K or GgmlType.Q5_K => (0, 2),
        _ => (208, -1),
    };

    private static void SetHalf(byte[] w, int at, Half h) => BinaryPrimitives.WriteUInt16LittleEndian(w.AsSpan(at), BitConverter.HalfToUInt16Bits(h));

    /// <summary>Random block bytes with finite random fp16 d and dmin.</summary>
    internal static byte[] RawWeights(GgmlType t, int n, Rng rng, int rows = 1)
    {
        var w = new byte[t.RowSize(n) * rows];
        for (int i = 0; i < w.Length; i++) w[i] = (byte)rng.NextInt(256);
        var (d, dmin) = HalfFields(t);
        for (int b = 0; b < w.Length / t.TypeSize(); b++)
        {
            SetHalf(w, b * t.TypeSize() + d, (Half)(rng.NextNormal() * 0.01));
            if (dmin >= 0) SetHalf(w, b * t.TypeSize() + dmin, (Half)(rng.NextNormal() * 0.01));
        }
        return w;
    }

    internal static byte[] QuantizedWeights(GgmlType t, int n, Rng rng)
    {
        var x = new float[n];
        rng.FillNormal(x, 0.05, 1);
        var w = new byte[t.RowSize(n)];
        GgmlBlocks.Quantize(t, x, w);
        return w;
    }

    internal static byte[] Activations(int n, Rng rng)
    {
        var x = new float[n];
        rng.FillNormal(x, 0, 2);
        var xq = new byte[n / 256 * Q8KActivations.BlockBytes];
        Q8KActivations.Quantize(x, xq);
        return xq;
    }

    private static float[] Dequantize(GgmlType t, byte[] w, int n)
    {
        var f = new float[n];
        GgmlBlocks.Dequantize(t, w, f);
        return f;
    }

    /// <summary>The float64 Σ w·x and the bound's scale S (see the class summary).</summary>
    internal static (double Sum, double S) Reference(GgmlType t, byte[] w, byte[] xq, int n)
    {
        var x = new float[n];
        Q8KActivations.Dequantize(xq, x);
        var wf = Dequantize(t, w, n);
        double sum = 0, s = 0;
        for (int i = 0; i < n; i++) sum += (double)wf[i] * x[i];
        var (d, dmin) = HalfFields(t);
        if (dmin < 0)
        {
            for (int i = 0; i < n; i++) s += Math.Abs((double)wf[i] * x[i]);
            return (sum, s);
        }
        byte[] aOnly = (byte[])w.Clone(), bOnly = (byte[])w.Clone();
        for (int b = 0; b < w.Length / t.TypeSize(); b++)
        {
            SetHalf(aOnly, b * t.TypeSize() + dmin, (Half)0);
            SetHalf(bOnly, b * t.TypeSize() + d, (Half)0);
        }
        var a = Dequantize(t, aOnly, n);
        var bm = Dequantize(t, bOnly, n);
        for (int i = 0; i < n; i++) s += (Math.Abs((double)a[i]) + Math.Abs((double)bm[i])) * Math.Abs((double)x[i]);
        return (sum, s);
    }

    internal static double Tolerance(double s, int n) => (8 + n / 256) * Math.Pow(2, -24) * s;

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dot_matches_the_float64_sum_of_the_dequantized_values_on_every_isa(string typeName, int n, bool raw)
    {
        var t = Enum.Parse<GgmlType>(typeName);
        var rng = new Rng((ulong)(1000 * (int)t + n + (raw ? 7 : 0)));
        var w = raw ? RawWeights(t, n, rng) : QuantizedWeights(t, n, rng);
        var xq = Activations(n, rng);
        var (expected, s) = Reference(t, w, xq, n);
        double tol = Tolerance(s, n);
        Assert.True(s > 0);
        float scalar = KQuantDot.Dot(t, w, xq, n, DotIsa.Scalar);
        foreach (var isa in Isas)
        {
            float got = KQuantDot.Dot(t, w, xq, n, isa);
            Assert.True(Math.Abs(got - expected) <= tol, $"{t.Name()} n={n} {isa}: {got} vs {expected} (tolerance {tol}, S {s})");
            Assert.True(Math.Abs(got - scalar) <= 2 * tol, $"{t.Name()} n={n} {isa}: {got} vs scalar {scalar}");
        }
        Assert.Equal(KQuantDot.Dot(t, w, xq, n, DotIsas.Detected), KQuantDot.Dot(t, w, xq, n));
    }

    /// <summary>With power-of-two d, dmin and d_x and sums below 2^24 every fp32 step is exact, so each ISA must give
    /// exactly the float64 reference: the integer sums (codes, scales, mins, offsets, bsums) agree bit for bit.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void Exact_when_every_rounding_is_exact(string typeName)
    {
        var t = Enum.Parse<GgmlType>(typeName);
        const int n = 512;
        var rng = new Rng(77 + (ulong)t);
        var w = RawWeights(t, n, rng);
        var (d, dmin) = HalfFields(t);
        for (int b = 0; b < n / 256; b++)
        {
            int at = b * t.TypeSize();
            SetHalf(w, at + d, (Half)(-1.0 / 1024));
            if (dmin >= 0) SetHalf(w, at + dmin, (Half)(1.0 / 1024));
            if (t == GgmlType.Q6_K)
                for (int g = 0; g < 16; g++) w[at + 192 + g] = (byte)(sbyte)(rng.NextInt(129) - 64);
        }
        var xq = new byte[n / 256 * 292];
        for (int b = 0; b < n / 256; b++)
        {
            var blk = xq.AsSpan(b * 292, 292);
            BinaryPrimitives.WriteSingleLittleEndian(blk, -1f / 128);
            for (int g = 0; g < 16; g++)
            {
                int sum = 0;
                for (int l = 0; l < 16; l++)
                {
                    int q = rng.NextInt(17) - 8;
                    blk[4 + 16 * g + l] = (byte)(sbyte)q;
                    sum += q;
                }
                BinaryPrimitives.WriteInt16LittleEndian(blk[(260 + 2 * g)..], (short)sum);
            }
        }
        var (expected, _) = Reference(t, w, xq, n);
        Assert.NotEqual(0, expected);
        foreach (var isa in Isas) Assert.Equal(expected, (double)KQuantDot.Dot(t, w, xq, n, isa));
    }

    /// <summary>Each code at its extreme (all bits set or clear) against ±127 activations: the largest integer sums the
    /// kernels form (vpmaddubsw's int16 pairs included) stay exact.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void Extreme_codes_and_activations(string typeName)
    {
        var t = Enum.Parse<GgmlType>(typeName);
        const int n = 256;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i % 3 == 0 ? -1 : 1;
        var xq = new byte[292];
        Q8KActivations.Quantize(x, xq);
        foreach (byte fill in new byte[] { 0xFF, 0x00, 0xAA, 0x55 })
        {
            var w = new byte[t.TypeSize()];
            Array.Fill(w, fill);
            var (d, dmin) = HalfFields(t);
            SetHalf(w, d, (Half)(1.0 / 4096));
            if (dmin >= 0) SetHalf(w, dmin, (Half)(-1.0 / 4096));
            var (expected, s) = Reference(t, w, xq, n);
            foreach (var isa in Isas)
            {
                float got = KQuantDot.Dot(t, w, xq, n, isa);
                Assert.True(Math.Abs(got - expected) <= Tolerance(s, n), $"{t.Name()} fill {fill:X2} {isa}: {got} vs {expected}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void DotRows_equals_Dot_of_each_row(string typeName)
    {
        var t = Enum.Parse<GgmlType>(typeName);
        const int n = 768, rows = 5;
        var rng = new Rng(31 + (ulong)t);
        var w = RawWeights(t, n, rng, rows);
        var xq = Activations(n, rng);
        int rowBytes = (int)t.RowSize(n);
        foreach (var isa in Isas)
        {
            var dst = new float[rows];
            KQuantDot.DotRows(t, w, rows, xq, n, dst, isa);
            for (int r = 0; r < rows; r++)
                Assert.Equal(KQuantDot.Dot(t, w.AsSpan(r * rowBytes, rowBytes), xq, n, isa), dst[r]);
        }
        KQuantDot.DotRows(t, ReadOnlySpan<byte>.Empty, 0, xq, n, Span<float>.Empty, DotIsa.Scalar);
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_what_was_expected()
    {
        var t = GgmlType.Q4_K;
        var w = new byte[144 * 2];
        var xq = new byte[292 * 2];
        string Message(Action a) => Assert.Throws<ArgumentException>(a).Message;

        Assert.Contains("multiple of 256", Message(() => KQuantDot.Dot(t, w, xq, 500, DotIsa.Scalar)));
        Assert.Contains("multiple of 256", Message(() => KQuantDot.Dot(t, w, xq, 0, DotIsa.Scalar)));
        Assert.Contains("288 bytes", Message(() => KQuantDot.Dot(t, w.AsSpan(1), xq, 512, DotIsa.Scalar)));
        Assert.Contains("584 bytes", Message(() => KQuantDot.Dot(t, w, xq.AsSpan(0, 292), 512, DotIsa.Scalar)));
        Assert.Contains("q4_0", Message(() => KQuantDot.Dot(GgmlType.Q4_0, w, xq, 512, DotIsa.Scalar)));
        Assert.Contains("q2_K", Message(() => KQuantDot.Dot(GgmlType.F32, w, xq, 512, DotIsa.Scalar)));
        Assert.Contains("isa", Message(() => KQuantDot.Dot(t, w, xq, 512, (DotIsa)9)));
        Assert.Contains("one value per row", Message(() => KQuantDot.DotRows(t, w, 2, xq, 512, new float[1], DotIsa.Scalar)));
        Assert.Contains("576 bytes", Message(() => KQuantDot.DotRows(t, w, 2, xq, 512, new float[2], DotIsa.Scalar)));
        Assert.Contains("rows", Message(() => KQuantDot.DotRows(t, w, -1, xq, 512, new float[0], DotIsa.Scalar)));
        if (DotIsas.Detected < DotIsa.Avx512)
            Assert.Contains("not supported", Message(() => KQuantDot.Dot(t, w, xq, 512, DotIsa.Avx512)));
    }
}
