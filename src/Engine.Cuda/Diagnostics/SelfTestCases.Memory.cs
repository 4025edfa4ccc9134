using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
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
}
