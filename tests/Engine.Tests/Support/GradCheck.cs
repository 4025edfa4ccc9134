using Engine.Autograd;
using Engine.Backends.Cpu;
using Engine.Tensors;

namespace Engine.Tests.Support;

/// <summary>Finite-difference gradient checks on the CPU backend (fp32). The scalar probed is L = Σ r·f(x) with a fixed
/// random r, accumulated in float64 on the host. Central differences with step h: the fp32 rounding of f's outputs
/// contributes about 6e-8·|y|·sqrt(N)/h to each estimate, so with h = 1e-3 and tensors of a few hundred elements the
/// estimates carry ~1e-4 relative noise; a tolerance of 1e-2 on the relative error of the whole gradient vector leaves a
/// margin of 100 while still catching any wrong term (a wrong term is an O(1) relative error).</summary>
internal static class GradCheck
{
    public static CpuBackend Cpu => CpuBackend.Instance;

    public static Tensor Param(Rng rng, params int[] shape) => Param(rng, 1.0, shape);

    public static Tensor Param(Rng rng, double std, params int[] shape)
    {
        var s = new Shape(shape);
        var data = new float[s.NumElements];
        rng.FillNormal(data, 0, std);
        var t = TensorScope.Unscoped(() => Cpu.FromFloats(data, s, DType.F32));
        t.RequiresGrad = true;
        return t;
    }

    public static float[] Values(Tensor t)
    {
        var a = new float[t.NumElements];
        Cpu.ToFloats(t, a);
        return a;
    }

    /// <summary>Checks d(Σ r·f)/d(input) for every input with RequiresGrad, on up to <paramref name="maxProbes"/>
    /// elements per input. Returns the worst relative error seen.</summary>
    public static double Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double h = 1e-3, double tol = 1e-2, int maxProbes = 64, ulong seed = 7)
    {
        var rng = new Rng(seed);
        float[] r;
        using (GradMode.NoGrad())
        using (var scope = new TensorScope())
        {
            var y0 = f(inputs);
            r = new float[y0.NumElements];
            rng.FillNormal(r, 0, 1);
        }
        foreach (var t in inputs) { t.Grad?.Dispose(); t.Grad = null; }

        using (var scope = new TensorScope())
        {
            var y = f(inputs);
            var rt = Cpu.FromFloats(r, y.Shape, DType.F32);
            BackwardPass.Run(y, rt);
        }

        double worst = 0;
        for (int k = 0; k < inputs.Length; k++)
        {
            var x = inputs[k];
            if (!x.RequiresGrad) continue;
            Assert.True(x.Grad is not null, $"input {k} got no gradient");
            var analytic = Values(x.Grad!);
            var data = x.Storage is not null ? Values(x) : throw new InvalidOperationException();
            int n = data.Length;
            var probe = Enumerable.Range(0, n).ToList();
            if (n > maxProbes) { rng.Shuffle(probe); probe = probe.Take(maxProbes).ToList(); }
            double num = 0, den = 0;
            foreach (int i in probe)
            {
                double fd = (Eval(f, inputs, r, x, i, data[i] + h) - Eval(f, inputs, r, x, i, data[i] - h)) / (2 * h);
                Restore(x, i, data[i]);
                num += (analytic[i] - fd) * (analytic[i] - fd);
                den += fd * fd;
            }
            double rel = Math.Sqrt(num) / Math.Max(Math.Sqrt(den), 1e-6);
            worst = Math.Max(worst, rel);
            Assert.True(rel < tol, $"input {k} {x.Shape}: gradient relative error {rel:E3} exceeds {tol:E1}");
        }
        return worst;
    }

    private static double Eval(Func<Tensor[], Tensor> f, Tensor[] inputs, float[] r, Tensor x, int i, double value)
    {
        Restore(x, i, (float)value);
        using (GradMode.NoGrad())
        using (var scope = new TensorScope())
        {
            var y = Values(f(inputs));
            double acc = 0;
            for (int j = 0; j < y.Length; j++) acc += (double)r[j] * y[j];
            return acc;
        }
    }

    private static void Restore(Tensor x, int i, float value) => x.F32()[i] = value;
}
