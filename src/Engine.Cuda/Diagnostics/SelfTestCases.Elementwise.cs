using Engine.Backends;
using Engine.Tensors;

namespace Engine.Diagnostics;

internal static partial class SelfTestCases
{
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

        // LoRA's backward adds its masked input gradient into dx in the same pass.
        var acc = h.Random(s, h.Act);
        h.C.Dropout(x.C, 0.3f, 777UL, acc.C, accumulate: true);
        h.R.Dropout(x.R, 0.3f, 777UL, acc.R, accumulate: true);
        h.Check("dropout (accumulate)", acc);
    }

    private static void BroadcastScalar(SelfTestHarness h)
    {
        var sc = h.Random(new Shape(1), DType.F32);
        var y = h.Output(new Shape(D(h).Elems), h.Act);
        h.C.BroadcastScalar(sc.C, 0.25f, y.C);
        h.R.BroadcastScalar(sc.R, 0.25f, y.R);
        h.Check("broadcast_scalar", y);
    }
}
