using System.Text.Json.Nodes;

namespace Engine.Tests.Models;

/// <summary>An independent float64 forward pass of a <see cref="FamilySpec"/> model, in plain loops, written from HF
/// transformers' modeling_llama/mistral/qwen2/qwen3.py and modeling_rope_utils.py: embedding, per layer RMSNorm →
/// q/k/v (+ bias) → per-head q/k RMSNorm (Qwen 3) → rotate_half RoPE with the scaled inverse frequencies (yarn also
/// scales cos/sin) → causal GQA softmax attention → o (+ bias) → residual → RMSNorm → SwiGLU MLP (+ biases) →
/// residual; final RMSNorm and the LM head (the embedding when tied). Shares no code with engine.</summary>
internal static class FamilyReference
{
    /// <summary>Inverse frequencies and the cos/sin factor, from rope_theta and the rope_scaling object.</summary>
    public static (double[] InvFreq, double Scale) Rope(FamilySpec s)
    {
        int d = s.HeadDim;
        var inv = new double[d / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = 1.0 / Math.Pow(s.Theta, 2.0 * i / d);
        var rs = s.RopeScaling;
        if (rs is null) return (inv, 1);
        string type = (rs["rope_type"] ?? rs["type"])!.GetValue<string>();
        double factor = rs["factor"]!.GetValue<double>();
        switch (type)
        {
            case "linear":
                return (inv.Select(f => f / factor).ToArray(), 1);
            case "llama3":
            {
                double lowF = rs["low_freq_factor"]!.GetValue<double>(), highF = rs["high_freq_factor"]!.GetValue<double>();
                double old = rs["original_max_position_embeddings"]!.GetValue<int>();
                return (inv.Select(f =>
                {
                    double wl = 2 * Math.PI / f;
                    if (wl < old / highF) return f;
                    if (wl > old / lowF) return f / factor;
                    double smooth = (old / wl - lowF) / (highF - lowF);
                    return (1 - smooth) * f / factor + smooth * f;
                }).ToArray(), 1);
            }
            case "yarn":
            {
                double orig = rs["original_max_position_embeddings"]?.GetValue<int>() ?? s.MaxPositions;
                double Dim(double rot) => d * Math.Log(orig / (rot * 2 * Math.PI)) / (2 * Math.Log(s.Theta));
                double lo = Math.Max(Math.Floor(Dim(32)), 0), hi = Math.Min(Math.Ceiling(Dim(1)), d - 1);
                if (lo == hi) hi += 0.001;
                var r = new double[inv.Length];
                for (int i = 0; i < r.Length; i++)
                {
                    double ramp = Math.Min(Math.Max((i - lo) / (hi - lo), 0), 1);
                    double keep = 1 - ramp; // share of the unscaled (extrapolated) frequency
                    r[i] = inv[i] / factor * ramp + inv[i] * keep;
                }
                return (r, 0.1 * Math.Log(factor) + 1);
            }
            default: throw new ArgumentException(type);
        }
    }

    /// <summary>Logits [T × V] (row-major) of one sequence, at positions 0..T−1 unless <paramref name="positions"/>
    /// says otherwise; in layer l, query t attends key u iff <paramref name="sees"/>(l, t, u) (default: causal, u ≤ t),
    /// so masks (packing, sliding windows) are checked against a plain predicate.</summary>
    public static double[] Logits(FamilySpec s, IReadOnlyDictionary<string, float[]> w, int[] ids,
                                  int[]? positions = null, Func<int, int, int, bool>? sees = null)
    {
        positions ??= Enumerable.Range(0, ids.Length).ToArray();
        sees ??= (_, t, u) => u <= t;
        int T = ids.Length, D = s.Hidden, H = s.Heads, Hkv = s.KvHeads, Dh = s.HeadDim, F = s.Intermediate, V = s.Vocab;
        var (inv, scale) = Rope(s);
        double[] W(string n) => w[n].Select(x => (double)x).ToArray();
        var x = new double[T, D];
        var emb = W("model.embed_tokens.weight");
        for (int t = 0; t < T; t++) for (int j = 0; j < D; j++) x[t, j] = emb[ids[t] * D + j];

        for (int l = 0; l < s.Layers; l++)
        {
            var p = $"model.layers.{l}";
            var h = Norm(x, W($"{p}.input_layernorm.weight"), s.Eps);
            var q = Lin(h, W($"{p}.self_attn.q_proj.weight"), s.QkvBias ? W($"{p}.self_attn.q_proj.bias") : null, H * Dh);
            var k = Lin(h, W($"{p}.self_attn.k_proj.weight"), s.QkvBias ? W($"{p}.self_attn.k_proj.bias") : null, Hkv * Dh);
            var v = Lin(h, W($"{p}.self_attn.v_proj.weight"), s.QkvBias ? W($"{p}.self_attn.v_proj.bias") : null, Hkv * Dh);
            if (s.QkNorm)
            {
                HeadNorm(q, H, Dh, W($"{p}.self_attn.q_norm.weight"), s.Eps);
                HeadNorm(k, Hkv, Dh, W($"{p}.self_attn.k_norm.weight"), s.Eps);
            }
            RotateHalf(q, H, Dh, inv, scale, positions);
            RotateHalf(k, Hkv, Dh, inv, scale, positions);
            var att = new double[T, H * Dh];
            for (int hh = 0; hh < H; hh++)
            {
                int g = hh / (H / Hkv);
                for (int t = 0; t < T; t++)
                {
                    var sc = new double[T];
                    double max = double.NegativeInfinity;
                    for (int u = 0; u < T; u++)
                    {
                        sc[u] = double.NegativeInfinity;
                        if (!sees(l, t, u)) continue;
                        double dot = 0;
                        for (int e = 0; e < Dh; e++) dot += q[t, hh * Dh + e] * k[u, g * Dh + e];
                        sc[u] = dot / Math.Sqrt(Dh);
                        max = Math.Max(max, sc[u]);
                    }
                    double z = 0;
                    for (int u = 0; u < T; u++) { sc[u] = Math.Exp(sc[u] - max); z += sc[u]; }
                    for (int u = 0; u < T; u++)
                        for (int e = 0; e < Dh; e++) att[t, hh * Dh + e] += sc[u] / z * v[u, g * Dh + e];
                }
            }
            var o = Lin(att, W($"{p}.self_attn.o_proj.weight"), s.OBias ? W($"{p}.self_attn.o_proj.bias") : null, D);
            for (int t = 0; t < T; t++) for (int j = 0; j < D; j++) x[t, j] += o[t, j];
            var h2 = Norm(x, W($"{p}.post_attention_layernorm.weight"), s.Eps);
            var gate = Lin(h2, W($"{p}.mlp.gate_proj.weight"), s.MlpBias ? W($"{p}.mlp.gate_proj.bias") : null, F);
            var up = Lin(h2, W($"{p}.mlp.up_proj.weight"), s.MlpBias ? W($"{p}.mlp.up_proj.bias") : null, F);
            for (int t = 0; t < T; t++)
                for (int j = 0; j < F; j++) gate[t, j] = gate[t, j] / (1 + Math.Exp(-gate[t, j])) * up[t, j];
            var down = Lin(gate, W($"{p}.mlp.down_proj.weight"), s.MlpBias ? W($"{p}.mlp.down_proj.bias") : null, D);
            for (int t = 0; t < T; t++) for (int j = 0; j < D; j++) x[t, j] += down[t, j];
        }
        var hf = Norm(x, W("model.norm.weight"), s.Eps);
        var head = s.Tie ? emb : W("lm_head.weight");
        var logits = Lin(hf, head, null, V);
        var r = new double[T * V];
        for (int t = 0; t < T; t++) for (int j = 0; j < V; j++) r[t * V + j] = logits[t, j];
        return r;
    }

    private static double[,] Norm(double[,] x, double[] w, double eps)
    {
        int T = x.GetLength(0), D = x.GetLength(1);
        var y = new double[T, D];
        for (int t = 0; t < T; t++)
        {
            double ss = 0;
            for (int j = 0; j < D; j++) ss += x[t, j] * x[t, j];
            double r = 1 / Math.Sqrt(ss / D + eps);
            for (int j = 0; j < D; j++) y[t, j] = x[t, j] * r * w[j];
        }
        return y;
    }

    private static void HeadNorm(double[,] x, int heads, int dh, double[] w, double eps)
    {
        for (int t = 0; t < x.GetLength(0); t++)
            for (int h = 0; h < heads; h++)
            {
                double ss = 0;
                for (int e = 0; e < dh; e++) ss += x[t, h * dh + e] * x[t, h * dh + e];
                double r = 1 / Math.Sqrt(ss / dh + eps);
                for (int e = 0; e < dh; e++) x[t, h * dh + e] *= r * w[e];
            }
    }

    /// <summary>HF apply_rotary_pos_emb: x·cos + rotate_half(x)·sin, rotate_half(x) = (−x2, x1).</summary>
    private static void RotateHalf(double[,] x, int heads, int dh, double[] inv, double scale, int[] positions)
    {
        int half = dh / 2;
        for (int t = 0; t < x.GetLength(0); t++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < half; i++)
                {
                    double c = Math.Cos(positions[t] * inv[i]) * scale, sn = Math.Sin(positions[t] * inv[i]) * scale;
                    double a = x[t, h * dh + i], b = x[t, h * dh + i + half];
                    x[t, h * dh + i] = a * c - b * sn;
                    x[t, h * dh + i + half] = b * c + a * sn;
                }
    }

    /// <summary>y = x·Wᵀ + b for W [out, in].</summary>
    private static double[,] Lin(double[,] x, double[] w, double[]? b, int outF)
    {
        int T = x.GetLength(0), inF = x.GetLength(1);
        var y = new double[T, outF];
        for (int t = 0; t < T; t++)
            for (int o = 0; o < outF; o++)
            {
                double acc = b?[o] ?? 0;
                for (int i = 0; i < inF; i++) acc += x[t, i] * w[o * inF + i];
                y[t, o] = acc;
            }
        return y;
    }
}
