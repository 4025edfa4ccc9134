using Engine.Models;
using Engine.Tests.Support;

namespace Engine.Tests.Models;

/// <summary>An independent float64 Llama forward for one sequence, written from the HF modeling code's definition
/// (RMSNorm, rotate-half RoPE, grouped-query attention, SwiGLU MLP, untied LM head), reading the model's weights by HF
/// name. Which keys a query sees is given explicitly, so masks are checked against a plain predicate.</summary>
internal static class Float64Llama
{
    /// <summary>Logits [T, V] of <paramref name="ids"/> at <paramref name="positions"/>; in layer l, query t attends key j
    /// iff <paramref name="sees"/>(l, t, j).</summary>
    public static double[,] Logits(LlamaModel m, int[] ids, int[] positions, Func<int, int, int, bool> sees)
    {
        var c = m.Config;
        int n = ids.Length, d = c.HiddenSize, dh = c.HeadDim;
        double[] W(string name) => GradCheck.Values(m.Parameters[name]).Select(x => (double)x).ToArray();
        var embed = W(LlamaNames.Embed);
        var x = new double[n, d];
        for (int t = 0; t < n; t++)
            for (int i = 0; i < d; i++) x[t, i] = embed[ids[t] * d + i];

        for (int l = 0; l < c.NumLayers; l++)
        {
            var h = Norm(x, W(LlamaNames.AttnNorm(l)), c.RmsNormEps);
            var q = Rope(Mul(h, W(LlamaNames.ProjectionWeight(l, "q_proj")), c.QDim), positions, c.NumHeads, dh, c.RopeTheta);
            var k = Rope(Mul(h, W(LlamaNames.ProjectionWeight(l, "k_proj")), c.KvDim), positions, c.NumKvHeads, dh, c.RopeTheta);
            var v = Mul(h, W(LlamaNames.ProjectionWeight(l, "v_proj")), c.KvDim);
            var a = new double[n, c.QDim];
            int group = c.NumHeads / c.NumKvHeads;
            for (int hh = 0; hh < c.NumHeads; hh++)
            {
                int kh = hh / group;
                for (int t = 0; t < n; t++)
                {
                    var s = new double[n];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < n; j++)
                    {
                        s[j] = double.NegativeInfinity;
                        if (!sees(l, t, j)) continue;
                        double dot = 0;
                        for (int e = 0; e < dh; e++) dot += q[t, hh * dh + e] * k[j, kh * dh + e];
                        s[j] = dot / Math.Sqrt(dh);
                        max = Math.Max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < n; j++) sum += s[j] = Math.Exp(s[j] - max);
                    for (int j = 0; j < n; j++)
                        for (int e = 0; e < dh; e++) a[t, hh * dh + e] += s[j] / sum * v[j, kh * dh + e];
                }
            }
            x = Add(x, Mul(a, W(LlamaNames.ProjectionWeight(l, "o_proj")), d));
            var h2 = Norm(x, W(LlamaNames.FfnNorm(l)), c.RmsNormEps);
            var g = Mul(h2, W(LlamaNames.ProjectionWeight(l, "gate_proj")), c.IntermediateSize);
            var u = Mul(h2, W(LlamaNames.ProjectionWeight(l, "up_proj")), c.IntermediateSize);
            for (int t = 0; t < n; t++)
                for (int i = 0; i < c.IntermediateSize; i++) g[t, i] = g[t, i] / (1 + Math.Exp(-g[t, i])) * u[t, i];
            x = Add(x, Mul(g, W(LlamaNames.ProjectionWeight(l, "down_proj")), d));
        }
        var head = m.TiedEmbeddings ? embed : W(LlamaNames.LmHead);
        return Mul(Norm(x, W(LlamaNames.FinalNorm), c.RmsNormEps), head, c.VocabSize);
    }

    /// <summary>x [n, in] · Wᵀ with W [out, in] row-major.</summary>
    private static double[,] Mul(double[,] x, double[] w, int outDim)
    {
        int n = x.GetLength(0), inDim = x.GetLength(1);
        var y = new double[n, outDim];
        for (int t = 0; t < n; t++)
            for (int o = 0; o < outDim; o++)
            {
                double s = 0;
                for (int i = 0; i < inDim; i++) s += x[t, i] * w[o * inDim + i];
                y[t, o] = s;
            }
        return y;
    }

    private static double[,] Add(double[,] a, double[,] b)
    {
        var y = (double[,])a.Clone();
        for (int t = 0; t < a.GetLength(0); t++)
            for (int i = 0; i < a.GetLength(1); i++) y[t, i] += b[t, i];
        return y;
    }

    private static double[,] Norm(double[,] x, double[] w, double eps)
    {
        int n = x.GetLength(0), d = x.GetLength(1);
        var y = new double[n, d];
        for (int t = 0; t < n; t++)
        {
            double ss = 0;
            for (int i = 0; i < d; i++) ss += x[t, i] * x[t, i];
            double r = 1 / Math.Sqrt(ss / d + eps);
            for (int i = 0; i < d; i++) y[t, i] = x[t, i] * r * w[i];
        }
        return y;
    }

    /// <summary>HF rotate_half: for i &lt; Dh/2, (x_i, x_{i+Dh/2}) rotated by position·θ^(−2i/Dh).</summary>
    private static double[,] Rope(double[,] x, int[] positions, int heads, int dh, double theta)
    {
        var y = (double[,])x.Clone();
        int half = dh / 2;
        for (int t = 0; t < x.GetLength(0); t++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < half; i++)
                {
                    double ang = positions[t] * Math.Pow(theta, -2.0 * i / dh);
                    double a = x[t, h * dh + i], b = x[t, h * dh + i + half];
                    y[t, h * dh + i] = a * Math.Cos(ang) - b * Math.Sin(ang);
                    y[t, h * dh + i + half] = b * Math.Cos(ang) + a * Math.Sin(ang);
                }
        return y;
    }
}
