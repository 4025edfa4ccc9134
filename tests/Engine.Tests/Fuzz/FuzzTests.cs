using System.Diagnostics;
using Engine.Tests.Support;

namespace Engine.Tests.Fuzz;

/// <summary>The mutation fuzzer over every parser (see <see cref="FuzzTargets"/>). A failure lists each failing input as
/// parser + seed + mutation; the inputs are saved under /tmp/engine-fuzz-failures/&lt;parser&gt;/ to be copied into
/// Corpus/&lt;parser&gt;/, which <see cref="FuzzCorpusTests"/> replays every run. `./build.sh fuzz N` runs N inputs per
/// parser (ENGINE_FUZZ_COUNT); ENGINE_FUZZ_SEED picks other inputs.</summary>
public abstract class FuzzTestsBase
{
    private const int MaxReported = 12;

    protected static void Fuzz(string name)
    {
        var target = FuzzTargets.Get(name);
        var seed = File.ReadAllBytes(target.SeedFile);
        int index = Array.IndexOf(FuzzTargets.Names, name);
        var other = File.ReadAllBytes(FuzzTargets.Get(FuzzTargets.Names[(index + 1) % FuzzTargets.Names.Length]).SeedFile);
        int count = FuzzRunner.Count(target);
        var failures = new List<string>();
        var sw = Stopwatch.StartNew();
        var runner = new FuzzRunner(target);
        try
        {
            // The unmutated seed must load: otherwise every input fails for the same reason.
            var baseline = runner.RunOne(seed, $"{name} seed file");
            Assert.True(baseline is null, baseline);
            for (int i = 0; i < count && failures.Count < MaxReported; i++)
            {
                int s = FuzzRunner.SeedOf(name, i);
                var (bytes, how) = Mutator.Mutate(seed, target.Json, other, s);
                var why = runner.RunOne(bytes, $"{name} seed {s} ({how})");
                if (why is null) continue;
                failures.Add(why);
                if (why.Contains("did not finish")) break; // the hung thread still holds the work folder
            }
        }
        finally { runner.Dispose(); }
        TestContext.Current.SendDiagnosticMessage($"fuzz {name}: {count} inputs in {sw.Elapsed.TotalSeconds:F1} s, {failures.Count} failures");
        Assert.True(failures.Count == 0,
            $"fuzz {name}: {failures.Count} failing inputs (saved under {FuzzRunner.FailureDir}/{name}; replay one with "
            + $"Mutator.Mutate(seed file, seed)):\n" + string.Join("\n", failures));
    }
}

/// <summary>Model and weight formats (the slower half: each input loads a model).</summary>
public sealed class FuzzModelTests : FuzzTestsBase
{
    public static TheoryData<string> Parsers => new(FuzzTargets.Names.Where(IsModel));
    internal static bool IsModel(string n) => n.StartsWith("safetensors") || n.StartsWith("config") || n.StartsWith("nf4")
        || n.StartsWith("llama2c") || n.StartsWith("adapter") || n == "gguf-written";

    [Theory, MemberData(nameof(Parsers))]
    public void Parser_survives_mutations(string parser) => Fuzz(parser);
}

/// <summary>Real GGUF files, tokenizers, data files and trainer state.</summary>
public sealed class FuzzFileTests : FuzzTestsBase
{
    public static TheoryData<string> Parsers => new(FuzzTargets.Names.Where(n => !FuzzModelTests.IsModel(n)));

    [Theory, MemberData(nameof(Parsers))]
    public void Parser_survives_mutations(string parser) => Fuzz(parser);
}

/// <summary>Every input that ever failed (Corpus/&lt;parser&gt;/*), replayed through the same checks.</summary>
public sealed class FuzzCorpusTests
{
    public static string CorpusDir
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                var c = Path.Combine(d.FullName, "tests", "Engine.Tests", "Fuzz", "Corpus");
                if (Directory.Exists(c)) return c;
            }
            throw new DirectoryNotFoundException("tests/Engine.Tests/Fuzz/Corpus not found above " + AppContext.BaseDirectory);
        }
    }

    public static TheoryData<string> Parsers => new(FuzzTargets.Names.Where(n => Directory.Exists(Path.Combine(CorpusDir, n))));

    [Theory, MemberData(nameof(Parsers))]
    public void Corpus_inputs_still_pass(string parser)
    {
        var target = FuzzTargets.Get(parser);
        using var runner = new FuzzRunner(target);
        var failures = new List<string>();
        var seed = File.ReadAllBytes(target.SeedFile);
        foreach (var file in Directory.GetFiles(Path.Combine(CorpusDir, parser)).Order(StringComparer.Ordinal))
        {
            var input = file.EndsWith(".delta", StringComparison.Ordinal)
                ? FuzzRunner.Delta.Decode(seed, File.ReadAllText(file)) : File.ReadAllBytes(file);
            var why = runner.RunOne(input, $"{parser} corpus {Path.GetFileName(file)}");
            if (why is not null) failures.Add(why);
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
