using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Tensors;

namespace Engine.Tests.Cuda;

/// <summary>The training step's multi-tensor ops on ILGPU's CPU accelerator: the device totals (losses, squared
/// gradient norm) against float64 loops, and the packed AdamW against the one-launch-per-tensor kernel, bit for bit.</summary>
[Collection(IlgpuCpuCollection.Name), Trait("Category", "IlgpuCpu")]
public sealed class MultiTensorOpsTests(IlgpuCpuFixture fx)
{
    /// <summary>More tensors than one pack holds (32), some empty, some bf16, values spread over twelve orders of
    /// magnitude so an fp32 running sum would lose the small ones.</summary>
    private static List<float[]> MixedValues(int count, int seed)
    {
        var rng = new Rng((ulong)seed);
        var list = new List<float[]>();
        for (int t = 0; t < count; t++)
        {
            int n = t % 9 == 4 ? 0 : t % 7 == 0 ? 20_001 : 1 + rng.NextInt(600);
            var v = new float[n];
            rng.FillNormal(v, 0, 1);
            for (int i = 0; i < n; i++) v[i] *= MathF.Pow(10f, (i * 7 + t) % 13 - 6);
            list.Add(v);
        }
        return list;
    }

    private static double Reference(IEnumerable<float[]> values, bool squares) =>
        values.Sum(v => v.Sum(x => squares ? (double)x * x : x));

    [Fact]
    public void Sum_of_squares_into_a_slot_equals_a_float64_loop_over_many_tensors_of_mixed_magnitude()
    {
        var be = fx.F32;
        var host = MixedValues(45, 11);
        var dtypes = host.Select((_, i) => i % 5 == 3 ? DType.BF16 : DType.F32).ToList();
        var xs = host.Select((v, i) => be.FromFloats(v, new Shape(v.Length), dtypes[i])).ToList();
        // the values as stored (bf16 rounds them)
        var stored = xs.Select(x => { var r = new float[x.NumElements]; be.ToFloats(x, r); return r; }).ToList();
        using var acc = be.Zeros(new Shape(SplitDouble.Elements(3)), DType.F32);
        be.SumSquaresInto(xs, acc, 1);
        be.SumSquaresInto(xs.Take(10).ToList(), acc, 1);
        be.SumInto(xs, acc, 2);
        var got = new float[acc.NumElements];
        be.ToFloats(acc, got);
        double squares = Reference(stored, true) + Reference(stored.Take(10), true);
        Assert.Equal(0, SplitDouble.Read(got, 0));
        Assert.True(Math.Abs(SplitDouble.Read(got, 1) - squares) <= 1e-12 * squares, $"{SplitDouble.Read(got, 1)} vs {squares}");
        double sum = Reference(stored, false), magnitude = stored.Sum(v => v.Sum(x => Math.Abs((double)x)));
        Assert.True(Math.Abs(SplitDouble.Read(got, 2) - sum) <= 1e-12 * magnitude, $"{SplitDouble.Read(got, 2)} vs {sum}");
        foreach (var x in xs) x.Dispose();
    }

    [Fact]
    public void The_cpu_backend_adds_the_same_totals_within_its_per_tensor_float_dot_products()
    {
        var be = CpuBackend.Instance;
        var host = MixedValues(40, 12);
        var xs = host.Select(v => be.FromFloats(v, new Shape(v.Length), DType.F32)).ToList();
        using var acc = be.Zeros(new Shape(SplitDouble.Elements(2)), DType.F32);
        be.SumSquaresInto(xs, acc, 0);
        be.SumInto(xs, acc, 1);
        var got = acc.F32().ToArray();
        double squares = Reference(host, true);
        Assert.True(Math.Abs(SplitDouble.Read(got, 0) - squares) <= 1e-6 * squares, $"{SplitDouble.Read(got, 0)} vs {squares}");
        double magnitude = host.Sum(v => v.Sum(x => Math.Abs((double)x)));
        Assert.True(Math.Abs(SplitDouble.Read(got, 1) - Reference(host, false)) <= 1e-12 * magnitude);
        foreach (var x in xs) x.Dispose();
    }

    [Fact]
    public void A_slot_outside_the_accumulator_is_refused()
    {
        using var acc = fx.F32.Zeros(new Shape(2), DType.F32);
        using var x = fx.F32.Zeros(new Shape(3), DType.F32);
        var e = Assert.Throws<ArgumentException>(() => fx.F32.SumSquaresInto(new[] { x }, acc, 1));
        Assert.Contains("slot 1", e.Message);
    }

    [Fact]
    public void Packed_adamw_leaves_the_same_bits_as_one_launch_per_tensor()
    {
        var be = fx.F32;
        var rng = new Rng(21);
        var sizes = Enumerable.Range(0, 41).Select(i => i % 10 == 6 ? 0 : i % 8 == 1 ? 4_011 : 1 + rng.NextInt(300)).ToArray();
        (List<AdamWSlot> Slots, List<Tensor> All) Build()
        {
            var r = new Rng(5);
            var slots = new List<AdamWSlot>();
            var all = new List<Tensor>();
            for (int i = 0; i < sizes.Length; i++)
            {
                var s = new Shape(sizes[i]);
                Tensor Make(double std, DType dt)
                {
                    var v = new float[sizes[i]];
                    r.FillNormal(v, 0, std);
                    var t = be.FromFloats(v, s, dt);
                    all.Add(t);
                    return t;
                }
                var param = Make(0.5, i % 3 == 2 ? DType.BF16 : DType.F32);
                var grad = Make(0.1, i % 4 == 3 ? DType.BF16 : DType.F32);
                var m = Make(0.01, DType.F32);
                var v = be.Zeros(s, DType.F32);
                all.Add(v);
                slots.Add(new AdamWSlot(param, grad, m, v, i % 2 == 0 ? 0.1f : 0f));
            }
            return (slots, all);
        }
        var (packed, packedAll) = Build();
        var (single, singleAll) = Build();
        var before = new byte[packed[0].Param.ByteLength];
        be.ToBytes(packed[0].Param, before);
        for (int step = 1; step <= 2; step++)
        {
            var h = new AdamWHyper(2e-3f * step, 0.9f, 0.999f, 1e-8f, step, step == 2 ? 0.37f : 1f);
            be.AdamW(packed, h);
            be.AdamWPerTensor(single, h);
        }
        for (int i = 0; i < packedAll.Count; i++)
        {
            var a = new byte[packedAll[i].ByteLength];
            var b = new byte[singleAll[i].ByteLength];
            be.ToBytes(packedAll[i], a);
            be.ToBytes(singleAll[i], b);
            Assert.True(a.AsSpan().SequenceEqual(b), $"tensor {i} of {packedAll.Count} ({packedAll[i]}) differs");
        }
        // the update happened (a test that compares two no-ops cannot fail)
        var after = new byte[before.Length];
        be.ToBytes(packed[0].Param, after);
        Assert.False(before.AsSpan().SequenceEqual(after));
        foreach (var t in packedAll.Concat(singleAll)) t.Dispose();
    }
}
