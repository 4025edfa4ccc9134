using System.Text.RegularExpressions;

namespace Engine.Tests.Architecture;

/// <summary>A source file, its path relative to the repository root with '/' separators.</summary>
internal sealed record SourceFile(string Path, string Text);

/// <summary>One reference that breaks a layer rule.</summary>
internal sealed record LayerViolation(string Path, int Line, string Reference, string Rule)
{
    public override string ToString() => $"{Path}:{Line}: {Reference} — {Rule}";
}

/// <summary>The layer order of docs/ARCHITECTURE.md, and a checker for it. A file's layer is its folder; a reference's
/// layer is the first namespace segment after <c>Engine.</c> (Backends.Cuda counts apart from Backends). References are
/// found in code only (comments and string text blanked): <c>using [static] Engine.X...</c>, <c>global::Engine.X</c>,
/// <c>Engine.X.Y</c> written out, and <c>X.Y</c> written relative to the enclosing <c>namespace Engine.*</c> when X is a
/// layer and Y a type or namespace declared in <c>Engine.X</c> (so a member that happens to be called <c>Data</c> or
/// <c>Api</c> is not mistaken for the namespace).</summary>
internal static class LayerRules
{
    public const string Root = "Engine";
    public const string Cuda = "Cuda", BackendsCuda = "Backends.Cuda", Diagnostics = "Diagnostics", Kernels = "Kernels", Cli = "Cli";

    /// <summary>The Engine assembly, lowest first: a layer may use itself and any layer before it.</summary>
    public static readonly string[] EngineOrder =
    [
        Root, "Threading", "Tensors", "Quant", "Formats", "Templating", "Backends", "Distributed", "Autograd", "Nn", "Tokenizers", "Models",
        "Checkpoints", "Data", "Training", "Api",
    ];

    private static readonly HashSet<string> EngineLayers = [.. EngineOrder];
    private static readonly HashSet<string> CudaAssemblyLayers = [BackendsCuda, Diagnostics, Cuda, Kernels];

    /// <summary>Names that qualify a reference (the first segment after Engine.; Backends.Cuda is told apart later).</summary>
    private static readonly HashSet<string> LayerNames = [.. EngineOrder.Skip(1), Cuda, Diagnostics, Kernels, Cli];

    private static int Rank(string layer) => Array.IndexOf(EngineOrder, layer);

    private static IEnumerable<string> UpTo(string layer) => EngineOrder.Take(Rank(layer) + 1);

    /// <summary>What each layer outside the plain Engine order may use, and the rule's wording.</summary>
    private static readonly Dictionary<string, (HashSet<string> Allowed, string Rule)> Special = new()
    {
        [BackendsCuda] = ([.. UpTo("Distributed"), BackendsCuda, Kernels],
            "Backends.Cuda sits at the Backends rank: it may use Threading, Tensors, Quant, Formats, Backends, Distributed (its NCCL communicator) and Engine.Kernels, not Autograd or above"),
        [Diagnostics] = ([.. EngineOrder.Where(l => l != "Api"), BackendsCuda, Kernels, Diagnostics],
            "Diagnostics may use every Engine layer except Api, and Backends.Cuda and Engine.Kernels"),
        [Cuda] = ([.. UpTo("Distributed"), BackendsCuda, Diagnostics, Cuda],
            "Engine.Cuda (CudaSupport) may use Distributed, Backends and below, Backends.Cuda and Diagnostics"),
        [Cli] = ([Root, "Api", Cuda, Cli],
            "the CLI may use only the root Engine namespace, Engine.Api, Engine.Cuda and its own Engine.Cli namespaces"),
    };

    /// <summary>The layer a file belongs to by its folder, or null when the folder is not a known layer.</summary>
    public static string? LayerOfFile(string path)
    {
        var parts = path.Split('/');
        if (parts.Length < 3 || parts[0] != "src") return null;
        switch (parts[1])
        {
            case "Engine":
                if (parts.Length == 3) return Root;
                return EngineLayers.Contains(parts[2]) ? parts[2] : null;
            case "Engine.Cuda":
                if (parts.Length == 3) return Cuda;
                if (parts[2] == "Backends" && parts.Length > 4 && parts[3] == "Cuda") return BackendsCuda;
                return parts[2] == Diagnostics ? Diagnostics : null;
            case "Engine.Cli":
                return Cli;
            default:
                return null;
        }
    }

    /// <summary>The namespace a file's folder gives it: src/Engine/X/Y → Engine.X.Y; src/Engine.Cuda/X → Engine.X, its
    /// root files (CudaSupport) → Engine.Cuda; src/Engine.Cli/X → Engine.Cli.X.</summary>
    public static string NamespaceOfFolder(string path)
    {
        var parts = path.Split('/');
        var folders = parts[2..^1];
        return parts[1] switch
        {
            "Engine.Cuda" when folders.Length == 0 => "Engine.Cuda",
            "Engine.Cuda" or "Engine" => string.Join('.', ["Engine", .. folders]),
            _ => string.Join('.', [parts[1], .. folders]),
        };
    }

    /// <summary>The first namespace the file declares, or null.</summary>
    public static string? DeclaredNamespace(string text)
    {
        var m = NamespaceDecl.Match(SourceText.CodeOnly(text));
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>The rule <paramref name="from"/> breaks by using <paramref name="to"/>, or null when it may.</summary>
    public static string? Broken(string from, string to)
    {
        if (from == to) return null;
        if (Special.TryGetValue(from, out var special))
            return special.Allowed.Contains(to) ? null : special.Rule;
        // from is a layer of the Engine assembly.
        if (CudaAssemblyLayers.Contains(to) || to == Cli)
            return "the Engine assembly never references Engine.Cuda, Engine.Backends.Cuda, Engine.Diagnostics, Engine.Kernels or the CLI";
        return Rank(to) <= Rank(from) ? null
            : $"{from} may use only layers below it ({string.Join(" < ", EngineOrder)}), not {to}";
    }

    /// <summary>Every reference in <paramref name="files"/> that breaks a rule, in path and line order. Types are
    /// looked up among all the files and <paramref name="declarationsOnly"/> (e.g. the kernels), which are not
    /// checked themselves. Files in no known layer are reported too.</summary>
    public static IReadOnlyList<LayerViolation> Check(IReadOnlyList<SourceFile> files, IReadOnlyList<SourceFile>? declarationsOnly = null)
    {
        var code = files.ToDictionary(f => f.Path, f => SourceText.CodeOnly(f.Text));
        var declared = DeclaredNames(code.Values.Concat((declarationsOnly ?? []).Select(f => SourceText.CodeOnly(f.Text))));
        var violations = new List<LayerViolation>();
        foreach (var file in files.OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            var from = LayerOfFile(file.Path);
            if (from is null)
            {
                violations.Add(new(file.Path, 1, "(file)", "every source file sits in a layer folder listed in docs/ARCHITECTURE.md"));
                continue;
            }
            foreach (var (line, text, to) in References(code[file.Path], declared))
                if (Broken(from, to) is string rule)
                    violations.Add(new(file.Path, line, text, rule));
        }
        return violations;
    }

    // Engine.X written out (using directives, using static, aliases, global::Engine.X, Engine.X.Y in code), not
    // a namespace declaration and not the tail of a longer name (Foo.Engine.X).
    private static readonly Regex Absolute = new(@"(?<!namespace\s+)(?<![\w.])Engine\.(?<first>[A-Za-z_]\w*)(?:\.(?<second>[A-Za-z_]\w*))?", RegexOptions.Compiled);

    // X.Y where X is a layer name, not preceded by '.' or an identifier character, and Y starts upper case.
    private static readonly Regex Relative = new(@"(?<![\w.:])(?<first>[A-Z]\w*)\.(?<second>[A-Z]\w*)", RegexOptions.Compiled);

    private static readonly Regex NamespaceDecl = new(@"\bnamespace\s+([\w.]+)", RegexOptions.Compiled);
    private static readonly Regex TypeDecl = new(@"\b(?:class|struct|interface|enum|record|delegate\s+[\w<>\[\],.?\s]+?)\s+(?<name>[A-Z]\w*)", RegexOptions.Compiled);

    /// <summary>For each namespace (Engine.X...), the type names declared in it and the names of its child namespaces.</summary>
    private static Dictionary<string, HashSet<string>> DeclaredNames(IEnumerable<string> codes)
    {
        var names = new Dictionary<string, HashSet<string>>();
        HashSet<string> Of(string ns) => names.TryGetValue(ns, out var set) ? set : names[ns] = [];
        foreach (var code in codes)
        {
            var ns = NamespaceDecl.Match(code);
            if (!ns.Success) continue;
            var segments = ns.Groups[1].Value.Split('.');
            for (int k = 1; k < segments.Length; k++) Of(string.Join('.', segments[..k])).Add(segments[k]);
            var set = Of(ns.Groups[1].Value);
            foreach (Match t in TypeDecl.Matches(code)) set.Add(t.Groups["name"].Value);
        }
        return names;
    }

    private static IEnumerable<(int Line, string Text, string Layer)> References(string code, Dictionary<string, HashSet<string>> declared)
    {
        var lineStarts = new List<int> { 0 };
        for (int k = 0; k < code.Length; k++) if (code[k] == '\n') lineStarts.Add(k + 1);
        int LineOf(int index) { int b = lineStarts.BinarySearch(index); return (b >= 0 ? b : ~b - 1) + 1; }

        var found = new List<(int Index, string Text, string Layer)>();
        foreach (Match m in Absolute.Matches(code))
        {
            string first = m.Groups["first"].Value, second = m.Groups["second"].Value;
            string layer = LayerNames.Contains(first) ? LayerOf(first, second) : Root; // Engine.EngineException
            found.Add((m.Index, ReferenceText(code, m.Index), layer));
        }
        // Relative qualification resolves only inside namespace Engine.*; every file here is in one.
        foreach (Match m in Relative.Matches(code))
        {
            string first = m.Groups["first"].Value, second = m.Groups["second"].Value;
            if (!LayerNames.Contains(first)) continue;
            if (!declared.TryGetValue("Engine." + first, out var names) || !names.Contains(second)) continue;
            found.Add((m.Index, ReferenceText(code, m.Index), LayerOf(first, second)));
        }
        return found.OrderBy(f => f.Index).Select(f => (LineOf(f.Index), f.Text, f.Layer));
    }

    private static string LayerOf(string first, string second) => first == "Backends" && second == "Cuda" ? BackendsCuda : first;

    /// <summary>The dotted name starting at <paramref name="index"/> (e.g. "Engine.Backends.Cpu.CpuBackend"), with its
    /// <c>global::</c> when it has one.</summary>
    private static string ReferenceText(string code, int index)
    {
        if (index >= 8 && code.AsSpan(index - 8, 8).SequenceEqual("global::")) index -= 8;
        int end = index + (code.AsSpan(index).StartsWith("global::") ? 8 : 0);
        while (end < code.Length && (char.IsLetterOrDigit(code[end]) || code[end] is '_' or '.')) end++;
        return code[index..end].TrimEnd('.');
    }
}
