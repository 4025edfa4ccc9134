namespace Engine.Tests.Architecture;

/// <summary>Keeps the layer order of docs/ARCHITECTURE.md (<see cref="LayerRules"/>): every reference to an Engine
/// namespace in src/ points down the layers.</summary>
public class LayeringTests
{
    [Fact]
    public void Engine_layers_reference_only_lower_layers() => AssertNone(Violations("src/Engine/"));

    [Fact]
    public void Engine_Cuda_layers_stay_at_their_rank() => AssertNone(Violations("src/Engine.Cuda/"));

    [Fact]
    public void Cli_uses_only_the_public_api() => AssertNone(Violations("src/Engine.Cli/"));

    /// <summary>Folders are namespaces, so a file's folder is its layer.</summary>
    [Fact]
    public void Namespaces_follow_folders()
    {
        var wrong = SourceFiles(RepoRoot(), "src")
            .Select(f => (f.Path, Expected: LayerRules.NamespaceOfFolder(f.Path), Actual: LayerRules.DeclaredNamespace(f.Text)))
            .Where(f => f.Actual != f.Expected)
            .Select(f => $"{f.Path}: namespace {f.Actual ?? "(none)"}, expected {f.Expected}")
            .ToList();
        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
    }

    [Fact]
    public void Checker_reports_wrong_references_at_their_line()
    {
        SourceFile[] files =
        [
            new("src/Engine/Tensors/Bad.cs", """
                using Engine.Threading;
                using Engine.Models;

                namespace Engine.Tensors;
                """),
            new("src/Engine/Models/Bad.cs", """
                namespace Engine.Models;

                internal sealed class Bad
                {
                    private Tensors.Tensor _fine = null!;
                    private Training.TrainJob _x = null!;
                    private int Data => 1;
                    private int Length => Data.Length; // a member named like a layer is not the namespace
                }
                """),
            new("src/Engine/Backends/Bad.cs", """
                namespace Engine.Backends;

                internal static class Bad
                {
                    public static void Run() =>
                        global::Engine.Autograd.Ops.Run();
                }
                """),
            new("src/Engine/Formats/OnlyInText.cs", """"
                namespace Engine.Formats;

                // using Engine.Training; Training.TrainJob
                /* global::Engine.Autograd.Ops */
                internal static class OnlyInText
                {
                    public const string A = "using Engine.Models; Training.TrainJob";
                    public const string B = @"Engine.Training.TrainJob ""Training.TrainJob""";
                    public const string C = $"{nameof(OnlyInText)} Training.TrainJob {{Training.TrainJob}}";
                    public const string D = $$"""
                        Engine.Training.TrainJob {Training.TrainJob}
                        """;
                    public const char Q = '"';
                    public static string E(int n) => $"{n:Training.TrainJob}";
                }
                """"),
            new("src/Engine/Formats/InAHole.cs", """
                namespace Engine.Formats;

                internal static class InAHole
                {
                    public static string S => $"x {Training.TrainJob.Name} y";
                }
                """),
            new("src/Engine.Cuda/Backends/Cuda/Bad.cs", """
                using Engine.Backends;
                using Engine.Kernels;
                using static Engine.Nn.Linear;

                namespace Engine.Backends.Cuda;
                """),
            new("src/Engine/Training/TrainJob.cs", """
                namespace Engine.Training;

                public sealed class TrainJob { }
                """),
            new("src/Engine/Nn/Linear.cs", "namespace Engine.Nn;\n\npublic sealed class Linear { }\n"),
            new("src/Engine/Autograd/Ops.cs", "namespace Engine.Autograd;\n\npublic static class Ops { }\n"),
            new("src/Engine/Data/Batch.cs", "namespace Engine.Data;\n\npublic sealed class Batch { }\n"),
            new("src/Engine/Tensors/Tensor.cs", "namespace Engine.Tensors;\n\npublic sealed class Tensor { }\n"),
            new("src/Engine/Somewhere/New.cs", "namespace Engine.Somewhere;\n"),
        ];

        var found = LayerRules.Check(files).Select(v => $"{v.Path}:{v.Line}: {v.Reference}").ToArray();

        Assert.Equal(
        [
            "src/Engine.Cuda/Backends/Cuda/Bad.cs:3: Engine.Nn.Linear",
            "src/Engine/Backends/Bad.cs:6: global::Engine.Autograd.Ops.Run",
            "src/Engine/Formats/InAHole.cs:5: Training.TrainJob.Name",
            "src/Engine/Models/Bad.cs:6: Training.TrainJob",
            "src/Engine/Somewhere/New.cs:1: (file)",
            "src/Engine/Tensors/Bad.cs:2: Engine.Models",
        ], found);
    }

    [Fact]
    public void Checker_names_the_rule()
    {
        SourceFile[] files =
        [
            new("src/Engine/Formats/Up.cs", "using Engine.Training;\nnamespace Engine.Formats;\n"),
            new("src/Engine/Models/Gpu.cs", "using Engine.Backends.Cuda;\nnamespace Engine.Models;\n"),
            new("src/Engine.Cli/Program.cs", "using Engine.Training;\nusing Engine.Api;\nusing Engine.Cuda;\nnamespace Engine.Cli;\n"),
        ];
        var found = LayerRules.Check(files).Select(v => v.ToString()).ToArray();
        Assert.Equal(3, found.Length);
        Assert.StartsWith("src/Engine.Cli/Program.cs:1: Engine.Training — the CLI may use only", found[0]);
        Assert.StartsWith("src/Engine/Formats/Up.cs:1: Engine.Training — Formats may use only layers below it", found[1]);
        Assert.StartsWith("src/Engine/Models/Gpu.cs:1: Engine.Backends.Cuda — the Engine assembly never references", found[2]);
    }

    private static IReadOnlyList<LayerViolation> Violations(string under)
    {
        var root = RepoRoot();
        return LayerRules.Check(SourceFiles(root, "src"), declarationsOnly: SourceFiles(root, "kernels"))
            .Where(v => v.Path.StartsWith(under, StringComparison.Ordinal)).ToList();
    }

    private static List<SourceFile> SourceFiles(string root, string folder) =>
        Directory.EnumerateFiles(Path.Combine(root, folder), "*.cs", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/'))
            .Where(p => !p.Contains("/bin/") && !p.Contains("/obj/"))
            .Select(p => new SourceFile(p, File.ReadAllText(Path.Combine(root, p))))
            .ToList();

    private static void AssertNone(IReadOnlyList<LayerViolation> violations) =>
        Assert.True(violations.Count == 0,
            $"{violations.Count} reference(s) against the layer order (docs/ARCHITECTURE.md):\n" + string.Join('\n', violations));

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new InvalidOperationException($"Engine.sln not found above {AppContext.BaseDirectory}");
    }
}
