using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Formats;

namespace Engine.Models;

internal enum RopeScalingType { Linear, Llama3, Yarn }

/// <summary>config.json's rope_scaling: how the rotary frequencies are stretched for long contexts, following
/// transformers' modeling_rope_utils.py (<c>_compute_linear_scaling_rope_parameters</c>,
/// <c>_compute_llama3_parameters</c>, <c>_compute_yarn_parameters</c>), computed in float64. Null on the config means
/// rope_type "default" (plain θ^(−2i/d)).</summary>
internal sealed record RopeScaling
{
    public required RopeScalingType Type { get; init; }
    public double Factor { get; init; } = 1;
    /// <summary>llama3: the pre-training context (8192 for Llama 3.1); yarn: the pre-yarn context (null: the config's
    /// max_position_embeddings).</summary>
    public int? OriginalMaxPositions { get; init; }
    public double LowFreqFactor { get; init; } = 1;
    public double HighFreqFactor { get; init; } = 4;
    public double? BetaFast { get; init; }
    public double? BetaSlow { get; init; }
    public double? Mscale { get; init; }
    public double? MscaleAllDim { get; init; }
    public double? AttentionFactor { get; init; }
    public bool Truncate { get; init; } = true;

    public string TypeName => Type switch
    {
        RopeScalingType.Linear => "linear", RopeScalingType.Llama3 => "llama3", RopeScalingType.Yarn => "yarn",
        _ => throw new ArgumentOutOfRangeException(),
    };

    /// <summary>The unscaled inverse frequencies θ^(−2i/d), i &lt; d/2, in float64.</summary>
    public static double[] DefaultInverseFrequencies(int headDim, double theta)
    {
        var inv = new double[headDim / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = Math.Pow(theta, -2.0 * i / headDim);
        return inv;
    }

    /// <summary>The inverse frequencies of each rotary pair under <paramref name="s"/> (null: unscaled).</summary>
    public static double[] InverseFrequencies(RopeScaling? s, int headDim, double theta, int maxPositions)
    {
        var inv = DefaultInverseFrequencies(headDim, theta);
        if (s is null) return inv;
        switch (s.Type)
        {
            case RopeScalingType.Linear:
                for (int i = 0; i < inv.Length; i++) inv[i] /= s.Factor;
                break;
            case RopeScalingType.Llama3:
            {
                double old = s.OriginalMaxPositions!.Value;
                double lowWavelen = old / s.LowFreqFactor, highWavelen = old / s.HighFreqFactor;
                for (int i = 0; i < inv.Length; i++)
                {
                    double wavelen = 2 * Math.PI / inv[i];
                    if (wavelen < highWavelen) continue;
                    if (wavelen > lowWavelen) { inv[i] /= s.Factor; continue; }
                    double smooth = (old / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                    inv[i] = (1 - smooth) * inv[i] / s.Factor + smooth * inv[i];
                }
                break;
            }
            case RopeScalingType.Yarn:
            {
                double orig = s.OriginalMaxPositions ?? maxPositions;
                double betaFast = s.BetaFast is double bf && bf != 0 ? bf : 32, betaSlow = s.BetaSlow is double bs && bs != 0 ? bs : 1;
                double CorrectionDim(double rotations) => headDim * Math.Log(orig / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
                double low = CorrectionDim(betaFast), high = CorrectionDim(betaSlow);
                if (s.Truncate) { low = Math.Floor(low); high = Math.Ceiling(high); }
                low = Math.Max(low, 0);
                high = Math.Min(high, headDim - 1);
                if (low == high) high += 0.001;
                for (int i = 0; i < inv.Length; i++)
                {
                    double ramp = Math.Clamp((i - low) / (high - low), 0, 1);
                    double extrapolation = 1 - ramp;
                    inv[i] = inv[i] / s.Factor * (1 - extrapolation) + inv[i] * extrapolation;
                }
                break;
            }
        }
        return inv;
    }

    /// <summary>The factor cos and sin are multiplied by (yarn's attention scaling; 1 for the others).</summary>
    public static double AttentionScale(RopeScaling? s)
    {
        if (s is not { Type: RopeScalingType.Yarn }) return 1;
        if (s.AttentionFactor is double a) return a;
        static double MScale(double scale, double m) => scale <= 1 ? 1 : 0.1 * m * Math.Log(scale) + 1;
        if (s.Mscale is double m1 && m1 != 0 && s.MscaleAllDim is double m2 && m2 != 0)
            return MScale(s.Factor, m1) / MScale(s.Factor, m2);
        return MScale(s.Factor, 1);
    }

    /// <summary>The llama3 rope_scaling that reproduces llama.cpp's rope_freqs.weight (per rotary pair the divisor of
    /// the unscaled frequency, as convert_hf_to_gguf.py writes it): factor is the largest divisor; pairs with a divisor
    /// strictly between 1 and factor lie in the smoothed band, where smooth = (1/f − 1/factor)/(1 − 1/factor) =
    /// (old/wavelength − low)/(high − low) is linear in 1/wavelength, which fixes old/(high − low) and low/(high − low);
    /// low_freq_factor is then taken as 1 (Llama 3.x's value; any other gives the same frequencies). With fewer than two
    /// smoothed pairs (small heads) high_freq_factor 4 is assumed too. Null, with the reason, when the divisors are not
    /// of that form: the fit must reproduce every divisor to 1e-5.</summary>
    public static RopeScaling? FromLlama3Divisors(ReadOnlySpan<float> divisors, int headDim, double theta, out string? why)
    {
        var inv = DefaultInverseFrequencies(headDim, theta);
        why = null;
        if (divisors.Length != inv.Length) { why = $"has {divisors.Length} values for {inv.Length} rotary pairs"; return null; }
        double factor = 0;
        foreach (var d in divisors) factor = Math.Max(factor, d);
        if (!(factor > 1)) { why = "holds no divisor above 1"; return null; }
        var xs = new List<double>();
        var ys = new List<double>();
        double maxKeptWavelen = 0, minDividedWavelen = double.PositiveInfinity;
        for (int i = 0; i < inv.Length; i++)
        {
            double d = divisors[i], wavelen = 2 * Math.PI / inv[i];
            if (Math.Abs(d - 1) <= 1e-6) { maxKeptWavelen = Math.Max(maxKeptWavelen, wavelen); continue; }
            if (Math.Abs(d - factor) <= 1e-6 * factor) { minDividedWavelen = Math.Min(minDividedWavelen, wavelen); continue; }
            xs.Add(1 / wavelen);
            ys.Add((1 / d - 1 / factor) / (1 - 1 / factor));
        }
        double high = 4, old;
        if (xs.Count >= 2)
        {
            // Least squares for smooth = a·(1/wavelength) − b, with a = old/(high − low), b = low/(high − low), low = 1.
            double mx = xs.Average(), my = ys.Average(), sxx = 0, sxy = 0;
            for (int i = 0; i < xs.Count; i++) { sxx += (xs[i] - mx) * (xs[i] - mx); sxy += (xs[i] - mx) * (ys[i] - my); }
            double a = sxy / sxx, b = a * mx - my;
            if (!(a > 0 && b > 0)) { why = "is not the smoothed llama3 band"; return null; }
            high = 1 + 1 / b;
            old = a / b;
        }
        // Fewer smoothed pairs leave a family of parameters that all give these divisors: take Llama 3's
        // high_freq_factor 4 and the original context that fits.
        else if (xs.Count == 1) old = (3 * ys[0] + 1) / xs[0];
        else old = double.IsPositiveInfinity(minDividedWavelen) ? 8 * maxKeptWavelen
            : maxKeptWavelen == 0 ? minDividedWavelen / 2 : Math.Sqrt(4 * maxKeptWavelen * minDividedWavelen);
        var s = new RopeScaling
        {
            Type = RopeScalingType.Llama3, Factor = Math.Round(factor, 4), LowFreqFactor = 1, HighFreqFactor = Math.Round(high, 4),
            OriginalMaxPositions = (int)Math.Round(old),
        };
        var back = InverseFrequencies(s, headDim, theta, s.OriginalMaxPositions.Value);
        for (int i = 0; i < inv.Length; i++)
        {
            double want = divisors[i], got = inv[i] / back[i];
            if (Math.Abs(got - want) > 1e-5 * want)
            {
                why = $"is not llama3 scaling: pair {i} divides by {want}, llama3 (factor {s.Factor}, high_freq_factor {s.HighFreqFactor}, original context {old:F0}) gives {got}";
                return null;
            }
        }
        return s;
    }

    private static readonly Dictionary<string, string[]> Keys = new()
    {
        ["default"] = [],
        ["linear"] = ["factor"],
        ["llama3"] = ["factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"],
        ["yarn"] = ["factor", "original_max_position_embeddings", "beta_fast", "beta_slow", "mscale", "mscale_all_dim", "attention_factor", "truncate"],
    };

    /// <summary>Reads config.json's rope_scaling (<paramref name="field"/> names it in errors; transformers 5 calls the
    /// same object rope_parameters and adds rope_theta to it, which <paramref name="extraKeys"/> lets through).
    /// Null or rope_type "default" gives null. Every other type, and any key the type does not use, is refused by
    /// name.</summary>
    public static RopeScaling? FromHfJson(JsonNode? node, string path, string field = "rope_scaling", params string[] extraKeys)
    {
        if (node is null || node.GetValueKind() == JsonValueKind.Null) return null;
        if (node is not JsonObject o) throw new FileFormatException(path, field, $"expected an object such as {{\"rope_type\": \"llama3\", ...}}, got {node.ToJsonString()}");
        var rt = JsonFields.String(o, "rope_type", path);
        var t = JsonFields.String(o, "type", path);
        if (rt is not null && t is not null && rt != t)
            throw new FileFormatException(path, $"{field}.type", $"\"{t}\" disagrees with rope_type \"{rt}\"");
        var type = rt ?? t ?? "default";
        var typeField = rt is not null ? $"{field}.rope_type" : $"{field}.type";
        if (!Keys.TryGetValue(type, out var allowed))
            throw new FileFormatException(path, typeField,
                $"RoPE scaling \"{type}\" is not supported; engine implements \"default\", \"linear\", \"llama3\" and \"yarn\"");
        foreach (var (key, value) in o)
        {
            if (key is "rope_type" or "type" || allowed.Contains(key) || extraKeys.Contains(key)) continue;
            if (value is null || value.GetValueKind() == JsonValueKind.Null) continue;
            throw new FileFormatException(path, $"{field}.{key}", $"is not used by rope_type \"{type}\" in engine (got {value.ToJsonString()}); remove it or use a supported type");
        }
        double? Num(string key, bool required)
        {
            var n = o[key];
            if (n is null || n.GetValueKind() == JsonValueKind.Null)
                return required ? throw new FileFormatException(path, $"{field}.{key}", $"missing; rope_type \"{type}\" needs it") : null;
            if (n.GetValueKind() != JsonValueKind.Number) throw new FileFormatException(path, $"{field}.{key}", $"expected a number, got {n.ToJsonString()}");
            // Parsed from the JSON text, so a node built in memory from an int reads the same as one read from a file.
            var v = double.Parse(n.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);
            if (!double.IsFinite(v)) throw new FileFormatException(path, $"{field}.{key}", $"expected a finite number, got {n.ToJsonString()}");
            return v;
        }
        int? Int(string key, bool required)
        {
            var v = Num(key, required);
            if (v is null) return null;
            if (v != Math.Floor(v.Value) || v <= 0 || v > int.MaxValue)
                throw new FileFormatException(path, $"{field}.{key}", $"expected a positive integer, got {o[key]!.ToJsonString()}");
            return (int)v.Value;
        }
        double Positive(string key, double v) =>
            v > 0 ? v : throw new FileFormatException(path, $"{field}.{key}", $"must be positive, got {o[key]!.ToJsonString()}");
        switch (type)
        {
            case "default": return null;
            case "linear": return new RopeScaling { Type = RopeScalingType.Linear, Factor = Positive("factor", Num("factor", true)!.Value) };
            case "llama3":
            {
                var s = new RopeScaling
                {
                    Type = RopeScalingType.Llama3,
                    Factor = Positive("factor", Num("factor", true)!.Value),
                    LowFreqFactor = Positive("low_freq_factor", Num("low_freq_factor", true)!.Value),
                    HighFreqFactor = Positive("high_freq_factor", Num("high_freq_factor", true)!.Value),
                    OriginalMaxPositions = Int("original_max_position_embeddings", true),
                };
                if (!(s.HighFreqFactor > s.LowFreqFactor))
                    throw new FileFormatException(path, $"{field}.high_freq_factor", $"must be greater than low_freq_factor {s.LowFreqFactor}, got {s.HighFreqFactor}");
                return s;
            }
            default:
                return new RopeScaling
                {
                    Type = RopeScalingType.Yarn,
                    Factor = Positive("factor", Num("factor", true)!.Value),
                    OriginalMaxPositions = Int("original_max_position_embeddings", false),
                    BetaFast = Num("beta_fast", false), BetaSlow = Num("beta_slow", false),
                    Mscale = Num("mscale", false), MscaleAllDim = Num("mscale_all_dim", false),
                    AttentionFactor = Num("attention_factor", false),
                    Truncate = JsonFields.Bool(o, "truncate", path, true),
                };
        }
    }

    /// <summary>config.json's rope_scaling object (rope_type plus the fields of that type that are set).</summary>
    public JsonObject ToHfJson()
    {
        var o = new JsonObject { ["rope_type"] = TypeName, ["factor"] = Factor };
        if (Type == RopeScalingType.Llama3)
        {
            o["low_freq_factor"] = LowFreqFactor;
            o["high_freq_factor"] = HighFreqFactor;
        }
        if (OriginalMaxPositions is int omp) o["original_max_position_embeddings"] = omp;
        if (Type == RopeScalingType.Yarn)
        {
            void Opt(string key, double? v) { if (v is double d) o[key] = d; }
            Opt("beta_fast", BetaFast); Opt("beta_slow", BetaSlow); Opt("mscale", Mscale); Opt("mscale_all_dim", MscaleAllDim);
            Opt("attention_factor", AttentionFactor);
            if (!Truncate) o["truncate"] = false;
        }
        return o;
    }
}
