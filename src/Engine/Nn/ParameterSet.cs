using System.Text.RegularExpressions;
using Engine.Tensors;

namespace Engine.Nn;

/// <summary>A model's tensors by their checkpoint names (HF names for Llama), in insertion order. Owns them.</summary>
internal sealed class ParameterSet : IDisposable
{
    private readonly Dictionary<string, Tensor> _byName = new();
    private readonly List<string> _order = new();

    public void Add(string name, Tensor t)
    {
        if (!_byName.TryAdd(name, t)) throw new ArgumentException($"parameter {name} added twice");
        t.Name = name;
        _order.Add(name);
    }

    /// <summary>Takes a tensor out of the set (the caller now owns it); false when there is none of that name.</summary>
    public bool Remove(string name, out Tensor t)
    {
        if (!_byName.Remove(name, out t!)) return false;
        _order.Remove(name);
        return true;
    }

    public Tensor this[string name] => _byName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"no parameter named {name}");
    public bool Contains(string name) => _byName.ContainsKey(name);
    public bool TryGet(string name, out Tensor t) => _byName.TryGetValue(name, out t!);
    public IEnumerable<(string Name, Tensor Tensor)> All => _order.Select(n => (n, _byName[n]));
    public IEnumerable<(string Name, Tensor Tensor)> Trainable => All.Where(p => p.Tensor.RequiresGrad);
    public int Count => _order.Count;

    public long CountElements(bool trainableOnly = false) =>
        All.Where(p => !trainableOnly || p.Tensor.RequiresGrad).Sum(p => p.Tensor.NumElements);

    public void Dispose()
    {
        foreach (var (_, t) in All) { t.Grad?.Dispose(); t.Dispose(); }
        _byName.Clear();
        _order.Clear();
    }

    /// <summary>A glob over dotted names: '*' matches one path segment or part of it, '**' any run of segments;
    /// a pattern also matches every name below it ("layers.*.mlp" matches "model.layers.3.mlp.up_proj.weight").
    /// Patterns may omit the leading "model." of HF names.</summary>
    public static Func<string, bool> GlobMatcher(string patterns)
    {
        var regexes = patterns.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p =>
            {
                var body = Regex.Escape(p).Replace(@"\*\*", ".*").Replace(@"\*", @"[^.]*");
                return new Regex($@"(^|\.)({body})(\.|$)", RegexOptions.CultureInvariant);
            }).ToArray();
        return name => regexes.Any(r => r.IsMatch(name));
    }
}
