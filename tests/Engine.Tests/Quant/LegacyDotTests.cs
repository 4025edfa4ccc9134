using Engine.Quant;
using Engine.Tensors;

namespace Engine.Tests.Quant;

/// <summary><see cref="LegacyDot"/> on every legacy type and every ISA this machine runs, against a float64 sum of the
/// decoded operands. The tolerance is 8 fp32 ulps of the magnitude: 8·2^-24·A with A = Σ|w_i·x_i| (plus, for q4_1/q5_1,
/// Σ_b |m_b|·(|s_b| + Σ_block |x_i|), the size of the min terms). The worst error measured over these seeds and more is
/// 0.84·2^-24·A (AVX2, q5_0); a wrong nibble, bit, scale or sign is off by a good fraction of A. The reference takes the
/// activation's stored fp16 s for the min term, as ggml does: Σ w·x + Σ_b m_b·(s_b - d_b·Σq_b).</summary>
public class LegacyDotTests
{
    private static readonly GgmlType[] Types = { GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0 };

    public static TheoryData<string> TypeNames() => new(Types.Select(t => t.ToString()));

    private static IEnumerable<DotIsa> Isas() => Enum.GetValues<DotIsa>().Where(i => i <= DotIsas.Detected);

    private static byte[] Activations(GgmlType type, float[] x)
    {
        bool q81 = LegacyDot.TakesQ8_1(type);
        var xq = new byte[x.Length / 32 * (q81 ? Q8Activations.Q8_1BlockBytes : Q8Activations.Q8_0BlockBytes)];
        if (q81) Q8Activations.QuantizeQ8_1(x, xq);
        else Q8Activations.QuantizeQ8_0(x, xq);
        return xq;
    }

    private static byte[] QuantizedWeights(GgmlType type, int n, Rng rng)
    {
        var f = new float[n];
        rng.FillNormal(f, 0.2, 1.0);
        var w = new byte[type.RowSize(n)];
        GgmlBlocks.Quantize(type, f, w);
        return w;
    }

    /// <summary>Random block bytes: every code bit random, d and m random fp16 of magnitude 2^-10..2^4 with random sign.</summary>
    private static byte[] RawWeights(GgmlType type, int n, Rng rng)
    {
        var w = new byte[type.RowSize(n)];
        for (int i = 0; i < w.Length; i++) w[i] = (byte)rng.NextInt(256);
        int ts = type.TypeSize();
        bool affine = type is GgmlType.Q4_1 or GgmlType.Q5_1;
        for (int b = 0; b < w.Length / ts; b++)
        {
            BitConverter.TryWriteBytes(w.AsSpan(b * ts), RandomHalf(rng));
            if (affine) BitConverter.TryWriteBytes(w.AsSpan(b * ts + 2), RandomHalf(rng));
        }
        return w;
    }

    private static ushort RandomHalf(Rng rng)
    {
        double v = Math.Pow(2, -10 + 14 * rng.NextDouble()) * (rng.NextInt(2) == 0 ? 1 : -1);
        return BitConverter.HalfToUInt16Bits((Half)v);
    }

    /// <summary>The float64 reference and the tolerance described on the class.</summary>
    private static (double Expected, double Tolerance) Reference(GgmlType type, byte[] w, byte[] xq, int n)
    {
        var wf = new float[n];
        var xf = new float[n];
        GgmlBlocks.Dequantize(type, w, wf);
        bool q81 = LegacyDot.TakesQ8_1(type);
        if (q81) Q8Activations.DequantizeQ8_1(xq, xf);
        else Q8Activations.DequantizeQ8_0(xq, xf);
        double sum = 0, mag = 0;
        for (int i = 0; i < n; i++)
        {
            sum += (double)wf[i] * xf[i];
            mag += Math.Abs((double)wf[i] * xf[i]);
        }
        if (q81)
        {
            int ts = type.TypeSize();
            for (int b = 0; b < n / 32; b++)
            {
                double m = (double)BitConverter.ToHalf(w, b * ts + 2);
                double d = (double)BitConverter.ToHalf(xq, b * 36), s = (double)BitConverter.ToHalf(xq, b * 36 + 2);
                int qsum = 0;
                double xabs = 0;
                for (int j = 0; j < 32; j++)
                {
                    qsum += (sbyte)xq[b * 36 + 4 + j];
                    xabs += Math.Abs(xf[b * 32 + j]);
                }
                sum += m * (s - d * qsum);
                mag += Math.Abs(m) * (Math.Abs(s) + xabs);
            }
        }
        return (sum, 8 * Math.Pow(2, -24) * mag);
    }

    /// <summary>n = 288 and 352 (9 and 11 blocks) leave an odd block and a pair after the groups of eight blocks whose
    /// scales the SIMD paths decode together; 32 and 64 have no whole group.</summary>
    [Theory]
    [MemberData(nameof(TypeNames))]
    public void Dot_matches_the_float64_sum_on_every_isa(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        var rng = new Rng(1000 + (ulong)type);
        foreach (int n in new[] { 32, 64, 288, 352, 768, 1120, 4096 })
        {
            for (int source = 0; source < 2; source++)
            {
                var w = source == 0 ? QuantizedWeights(type, n, rng) : RawWeights(type, n, rng);
                var x = new float[n];
                rng.FillNormal(x, -0.1, 1.5);
                var xq = Activations(type, x);
                var (expected, tol) = Reference(type, w, xq, n);
                float scalar = LegacyDot.Dot(type, w, xq, n, DotIsa.Scalar);
                foreach (var isa in Isas())
                {
                    float got = LegacyDot.Dot(type, w, xq, n, isa);
                    string what = $"{type} n={n} {(source == 0 ? "quantized" : "raw")} weights on {isa}";
                    Assert.True(Math.Abs(got - expected) <= tol, $"{what}: {got}, expected {expected} ± {tol}");
                    Assert.True(Math.Abs(got - scalar) <= 2 * tol, $"{what}: {got}, scalar path {scalar}");
                }
                Assert.Equal(LegacyDot.Dot(type, w, xq, n, DotIsas.Detected), LegacyDot.Dot(type, w, xq, n));
                if (DotIsas.Detected >= DotIsa.Avx2)
                {
                    // The AVX2 path without AVX-VNNI (vpmaddubsw + vpmaddwd), which a VNNI machine would not otherwise run.
                    var one = new float[1];
                    LegacyDot.DotRows(type, w, 1, xq, n, one, DotIsa.Avx2, vnni: false);
                    Assert.True(Math.Abs(one[0] - expected) <= tol, $"{type} n={n} on AVX2 without VNNI: {one[0]}, expected {expected} ± {tol}");
                    if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported)
                        Assert.Equal(LegacyDot.Dot(type, w, xq, n, DotIsa.Avx2), one[0]); // the same integer sums either way
                }
            }
        }
    }

    /// <summary>The AVX-512 kernels of q4_0 and q5_0 take the codes unsigned and subtract offset·Σx, so they are exact for
    /// any int8 activation, -128 included (which ggml's AVX2 sign trick cannot negate): in the whole groups, the tail's
    /// four-block steps and its last blocks (n = 1120: two groups, no step, three blocks; 1248: two groups, one step,
    /// three blocks; 288: two steps and one block), against the float64 sum.</summary>
    [Theory]
    [InlineData("Q4_0")]
    [InlineData("Q5_0")]
    public void Avx512_q4_0_and_q5_0_are_exact_for_minus_128(string typeName)
    {
        if (DotIsas.Detected < DotIsa.Avx512) return; // nothing to check on this machine: the scalar path is the reference
        var type = Enum.Parse<GgmlType>(typeName);
        var rng = new Rng(4242 + (ulong)type);
        foreach (int n in new[] { 288, 1120, 1248 })
        {
            var w = RawWeights(type, n, rng);
            var x = new float[n];
            rng.FillNormal(x, 0, 1);
            var xq = Activations(type, x);
            for (int b = 0; b < n / 32; b++)
                for (int j = 0; j < 32; j += 1 + rng.NextInt(5)) xq[b * Q8Activations.Q8_0BlockBytes + 2 + j] = 0x80;
            var (expected, tol) = Reference(type, w, xq, n);
            float got = LegacyDot.Dot(type, w, xq, n, DotIsa.Avx512);
            Assert.True(Math.Abs(got - expected) <= tol, $"{type} n={n} with -128 activations on AVX-512: {got}, expected {expected} ± {tol}");
        }
    }

    /// <summary>A value worked by hand: every weight 0.5 (127 for q8_0, whose fp16 scale then is exactly 1) and every
    /// activation 127 (d = 1, q = 127, s = 32·127 = 4064) give n·w·127 exactly. q4_0/q5_0 store 0.5 as the lowest
    /// code times a negative d (-8·-0.0625, -16·-0.03125); q4_1/q5_1 as code 0 plus the min 0.5, so all of it comes from
    /// the m·s term.</summary>
    [Theory]
    [MemberData(nameof(TypeNames))]
    public void Constant_rows_give_the_exact_product(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        const int n = 4096;
        float c = type == GgmlType.Q8_0 ? 127f : 0.5f;
        var wf = Enumerable.Repeat(c, n).ToArray();
        var w = new byte[type.RowSize(n)];
        GgmlBlocks.Quantize(type, wf, w);
        var xq = Activations(type, Enumerable.Repeat(127f, n).ToArray());
        foreach (var isa in Isas()) Assert.Equal(n * c * 127f, LegacyDot.Dot(type, w, xq, n, isa));
    }

    [Theory]
    [MemberData(nameof(TypeNames))]
    public void DotRows_equals_Dot_per_row(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        var rng = new Rng(7 + (ulong)type);
        foreach (int n in new[] { 32, 288, 768, 4096 })
        {
            const int rows = 5;
            long rowBytes = type.RowSize(n);
            var w = new byte[rows * rowBytes];
            for (int r = 0; r < rows; r++) (r % 2 == 0 ? QuantizedWeights(type, n, rng) : RawWeights(type, n, rng)).CopyTo(w, r * rowBytes);
            var x = new float[n];
            rng.FillNormal(x, 0, 1);
            var xq = Activations(type, x);
            foreach (var isa in Isas())
            {
                var dst = new float[rows];
                LegacyDot.DotRows(type, w, rows, xq, n, dst, isa);
                for (int r = 0; r < rows; r++)
                    Assert.Equal(LegacyDot.Dot(type, w.AsSpan((int)(r * rowBytes), (int)rowBytes), xq, n, isa), dst[r]);
            }
        }
    }

    /// <summary>The AVX-512 kernels of q4_0 and q5_0 run rows in passes of four (the rest one at a time) and blocks in
    /// groups of sixteen (the rest per block): every row count 1..9 and block counts with and without a rest give each
    /// row's <see cref="LegacyDot.Dot(GgmlType, ReadOnlySpan{byte}, ReadOnlySpan{byte}, int, DotIsa)"/> bit for bit, and
    /// the float64 sum within the tolerance.</summary>
    [Theory]
    [MemberData(nameof(TypeNames))]
    public void DotRows_of_any_row_count_equal_Dot_per_row(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        var rng = new Rng(77 + (ulong)type);
        foreach (int n in new[] { 512, 800, 1024 + 15 * 32 })
        {
            long rowBytes = type.RowSize(n);
            var x = new float[n];
            rng.FillNormal(x, 0.3, 1.2);
            var xq = Activations(type, x);
            for (int rows = 1; rows <= 9; rows++)
            {
                var w = new byte[rows * rowBytes];
                for (int r = 0; r < rows; r++) (r % 3 == 1 ? QuantizedWeights(type, n, rng) : RawWeights(type, n, rng)).CopyTo(w, r * rowBytes);
                foreach (var isa in Isas())
                {
                    var dst = new float[rows];
                    LegacyDot.DotRows(type, w, rows, xq, n, dst, isa);
                    for (int r = 0; r < rows; r++)
                    {
                        var row = w.AsSpan((int)(r * rowBytes), (int)rowBytes).ToArray();
                        Assert.Equal(LegacyDot.Dot(type, row, xq, n, isa), dst[r]);
                        var (expected, tol) = Reference(type, row, xq, n);
                        Assert.True(Math.Abs(dst[r] - expected) <= tol, $"{type} n={n} row {r} of {rows} on {isa}: {dst[r]}, expected {expected} ± {tol}");
                    }
                }
            }
        }
    }

    /// <summary>Weight scales the AVX-512 kernels decode sixteen at a time: subnormal d stays within the tolerance of the
    /// float64 sum; a NaN d makes the dot NaN and an infinite d makes it non-finite, on every ISA.</summary>
    [Theory]
    [MemberData(nameof(TypeNames))]
    public void Special_weight_scales_carry_through(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        var rng = new Rng(99 + (ulong)type);
        const int n = 1024;
        int ts = type.TypeSize();
        var x = new float[n];
        rng.FillNormal(x, 0.1, 1);
        var xq = Activations(type, x);
        var w = RawWeights(type, n, rng);
        for (int b = 0; b < n / 32; b += 3) BitConverter.TryWriteBytes(w.AsSpan(b * ts), (ushort)(0x0001 + 37 * b)); // subnormal d
        var (expected, tol) = Reference(type, w, xq, n);
        foreach (var isa in Isas())
        {
            float got = LegacyDot.Dot(type, w, xq, n, isa);
            Assert.True(Math.Abs(got - expected) <= tol, $"{type} subnormal d on {isa}: {got}, expected {expected} ± {tol}");
        }
        foreach (ushort special in new ushort[] { 0x7E00, 0xFC01, 0x7C00, 0xFC00 })
        {
            var ws = (byte[])w.Clone();
            BitConverter.TryWriteBytes(ws.AsSpan(17 * ts), special);
            foreach (var isa in Isas())
            {
                float got = LegacyDot.Dot(type, ws, xq, n, isa);
                if ((special & 0x03FF) != 0) Assert.True(float.IsNaN(got), $"{type} NaN d on {isa}: {got}");
                else Assert.False(float.IsFinite(got), $"{type} infinite d on {isa}: {got}");
            }
        }
    }

    /// <summary>The block GEMM tile (four weight rows × two activation rows) gives every element
    /// bit for bit as <see cref="LegacyDot.DotRows(GgmlType, ReadOnlySpan{byte}, int, ReadOnlySpan{byte}, int, Span{float}, DotIsa)"/>
    /// on AVX-512 does for that activation row: odd row and activation counts (the passes' tails), rows with no whole
    /// group of 16 blocks, several groups and a partial one, random code bits and scales, a strided destination.</summary>
    [Theory]
    [InlineData("Q4_0")]
    [InlineData("Q5_0")]
    public void DotTile_equals_DotRows_per_activation_row(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        if (!LegacyDot.HasTile(type)) Assert.Skip("needs AVX-512 VBMI");
        var rng = new Rng(77);
        foreach (int n in new[] { 32 * 9, 32 * 16, 32 * 37, 32 * 64 })
            foreach (int rows in new[] { 1, 4, 11 })
                foreach (int m in new[] { 1, 2, 5 })
                {
                    var w = RawWeights(type, n * rows, rng);
                    int xb = n / 32 * Q8Activations.Q8_0BlockBytes;
                    var xq = new byte[m * xb];
                    var x = new float[n];
                    for (int i = 0; i < m; i++)
                    {
                        rng.FillNormal(x, 0, 1 + i);
                        Activations(type, x).CopyTo(xq, i * xb);
                    }
                    int ldd = rows + 3;
                    var got = new float[m * ldd];
                    LegacyDot.DotTile(type, w, rows, xq, m, n, got, ldd);
                    var want = new float[rows];
                    for (int i = 0; i < m; i++)
                    {
                        LegacyDot.DotRows(type, w, rows, xq.AsSpan(i * xb, xb), n, want, DotIsa.Avx512);
                        for (int r = 0; r < rows; r++)
                            if (BitConverter.SingleToInt32Bits(got[i * ldd + r]) != BitConverter.SingleToInt32Bits(want[r]))
                                Assert.Fail($"{type} n {n}, {rows} rows, {m} activations: [{i},{r}] = {got[i * ldd + r]:R}, DotRows {want[r]:R}");
                    }
                }
    }

    [Fact]
    public void Activation_format_follows_ggml_vec_dot_type()
    {
        Assert.False(LegacyDot.TakesQ8_1(GgmlType.Q4_0));
        Assert.True(LegacyDot.TakesQ8_1(GgmlType.Q4_1));
        Assert.False(LegacyDot.TakesQ8_1(GgmlType.Q5_0));
        Assert.True(LegacyDot.TakesQ8_1(GgmlType.Q5_1));
        Assert.False(LegacyDot.TakesQ8_1(GgmlType.Q8_0));
        Assert.Throws<ArgumentException>(() => LegacyDot.TakesQ8_1(GgmlType.Q4_K));
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_what_was_expected()
    {
        var w = new byte[GgmlType.Q4_0.RowSize(64)];
        var xq = new byte[2 * Q8Activations.Q8_0BlockBytes];
        var ex = Assert.Throws<ArgumentException>(() => LegacyDot.Dot(GgmlType.Q4_K, new byte[144], new byte[8 * 34], 256, DotIsa.Scalar));
        Assert.Contains("q4_K", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => LegacyDot.Dot(GgmlType.F32, w, xq, 64));
        Assert.Contains("q4_0, q4_1, q5_0, q5_1 or q8_0", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => LegacyDot.Dot(GgmlType.Q4_0, w, xq, 48));
        Assert.Contains("multiple of 32", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => LegacyDot.Dot(GgmlType.Q4_0, w.AsSpan(1), xq, 64));
        Assert.Contains("36 bytes", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => LegacyDot.Dot(GgmlType.Q4_0, w, new byte[2 * Q8Activations.Q8_1BlockBytes], 64));
        Assert.Contains("q8_0", ex.Message);
        Assert.Contains("68 bytes", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => LegacyDot.Dot(GgmlType.Q4_1, new byte[40], xq, 64));
        Assert.Contains("q8_1", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => LegacyDot.DotRows(GgmlType.Q4_0, w, 1, xq, 64, new float[2], DotIsa.Scalar));
        Assert.Contains("one float per row", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => LegacyDot.DotRows(GgmlType.Q4_0, w, 2, xq, 64, new float[2], DotIsa.Scalar));
        Assert.Contains("72 bytes", ex.Message);
        Assert.Throws<ArgumentException>(() => LegacyDot.DotRows(GgmlType.Q4_0, w, -1, xq, 64, new float[0], DotIsa.Scalar));
        Assert.Throws<ArgumentException>(() => LegacyDot.Dot(GgmlType.Q4_0, w, xq, 64, (DotIsa)99));
        LegacyDot.DotRows(GgmlType.Q4_0, ReadOnlySpan<byte>.Empty, 0, xq, 64, Span<float>.Empty, DotIsa.Scalar); // no rows: nothing to do
    }

    /// <summary>q5's high bits on AVX-512: the compare-based expansion (what a CPU without AVX512-VBMI runs) and the
    /// vpmultishiftqb one (where VBMI exists) both put bit p of the two qh words (block A's, then B's) into byte p.</summary>
    [Fact]
    public unsafe void Q5_high_bits_expand_to_their_code_bytes()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) Assert.Skip("this machine has no AVX-512 BW");
        var rng = new Rng(99);
        var qh = new uint[2];
        for (int t = 0; t < 200; t++)
        {
            qh[0] = (uint)rng.NextU64();
            qh[1] = t == 0 ? 0u : t == 1 ? uint.MaxValue : (uint)rng.NextU64();
            fixed (uint* p = qh)
            {
                var mask = LegacyDot.Bits512((byte*)p, (byte*)(p + 1));
                var high = LegacyDot.HighBits512((byte*)p, (byte*)(p + 1));
                for (int i = 0; i < 64; i++)
                {
                    bool set = ((qh[i / 32] >> (i % 32)) & 1) != 0;
                    Assert.Equal(set ? (byte)0xFF : (byte)0, mask[i]);
                    Assert.Equal(set ? (byte)0x10 : (byte)0, high[i]);
                }
            }
        }
    }
}
