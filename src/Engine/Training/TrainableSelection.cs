using Engine.Models;
using Engine.Nn;

namespace Engine.Training;

/// <summary>Which base-model parameters train in <c>--mode sft</c>: <c>last:N</c> (the last N decoder layers),
/// <c>first:N</c>, or comma-separated module patterns ("layers.*.mlp,lm_head"; see <see cref="ParameterSet.GlobMatcher"/>).</summary>
internal static class TrainableSelection
{
    public static Func<string, bool> Parse(string spec, LlamaConfig config)
    {
        spec = spec.Trim();
        if (spec.StartsWith("last:", StringComparison.OrdinalIgnoreCase) || spec.StartsWith("first:", StringComparison.OrdinalIgnoreCase))
        {
            bool last = spec.StartsWith("last:", StringComparison.OrdinalIgnoreCase);
            var num = spec[(spec.IndexOf(':') + 1)..];
            if (!int.TryParse(num, out int n) || n <= 0 || n > config.NumLayers)
                throw new EngineException($"--trainable {spec}: expected a layer count between 1 and {config.NumLayers}");
            int from = last ? config.NumLayers - n : 0, to = last ? config.NumLayers : n;
            return name => LayerOf(name) is int l && l >= from && l < to;
        }
        var match = ParameterSet.GlobMatcher(spec);
        return match;
    }

    /// <summary>Checks that a selection picks something; names the pattern otherwise.</summary>
    public static void RequireAny(Func<string, bool> selection, IEnumerable<string> names, string spec)
    {
        if (!names.Any(selection))
            throw new EngineException($"--trainable \"{spec}\" matches no parameter (names look like model.layers.0.mlp.up_proj.weight, lm_head.weight)");
    }

    private static int? LayerOf(string name)
    {
        const string prefix = "model.layers.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return null;
        int end = name.IndexOf('.', prefix.Length);
        return end > 0 && int.TryParse(name.AsSpan(prefix.Length, end - prefix.Length), out int l) ? l : null;
    }
}
