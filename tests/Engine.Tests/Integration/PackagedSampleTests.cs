using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Engine.Api;
using Engine.Formats;
using Engine.Quant;
using Engine.Tests.Support;

namespace Engine.Tests.Integration;

/// <summary>The NuGet packages as a user gets them: <c>./build.sh pack</c> into a temp feed, then a copy of
/// samples/Embedding restored against that feed only (a per-run packages folder, so a package of the same version cached
/// by an earlier run cannot hide a broken pack), built, and run with <c>dotnet run</c>.</summary>
public sealed partial class PackagedSampleTests(PackedSample sample) : IClassFixture<PackedSample>
{
    [Fact]
    public void Pack_makes_Engine_and_Engine_Cuda_with_their_metadata()
    {
        var feed = sample.Prepare().Feed;
        Assert.Equal(new[] { $"Engine.{sample.Version}.nupkg", $"Engine.Cuda.{sample.Version}.nupkg" }.Order(StringComparer.Ordinal),
            Directory.GetFiles(feed, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal)); // nothing else is packed

        var (engineFiles, engine) = ReadPackage(Path.Combine(feed, $"Engine.{sample.Version}.nupkg"));
        Assert.Subset(engineFiles, new HashSet<string> { "lib/net10.0/Engine.dll", "lib/net10.0/Engine.xml", "README.md" });
        Assert.Equal("engine contributors", Field(engine, "authors"));
        Assert.Equal("MIT", Field(engine, "license"));
        Assert.Equal("README.md", Field(engine, "readme"));
        Assert.False(string.IsNullOrWhiteSpace(Field(engine, "description")));

        var (cudaFiles, cuda) = ReadPackage(Path.Combine(feed, $"Engine.Cuda.{sample.Version}.nupkg"));
        Assert.Subset(cudaFiles, new HashSet<string> { "lib/net10.0/Engine.Cuda.dll", "lib/net10.0/Engine.Kernels.dll", "README.md" });
        var dependencies = cuda.Descendants().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => (string)e.Attribute("id")!, e => (string)e.Attribute("version")!);
        Assert.Equal(sample.Version, dependencies["Engine"]);
        Assert.Contains("ILGPU", dependencies.Keys);
        Assert.DoesNotContain("Engine.Kernels", dependencies.Keys); // the kernels ship inside Engine.Cuda
    }

    [Fact]
    public void Sample_trains_generates_and_exports_the_demo()
    {
        var output = sample.Run();
        using var demo = EngineModel.Demo(new ModelOptions { Device = "cpu" });
        CheckRun(output, demo.Info, requiredDrop: 0.3);
    }

    [Fact]
    public void Sample_trains_generates_and_exports_stories260K()
    {
        var model = SharedData.Require("stories260K/stories260K.bin");
        var data = SharedData.Require("datasets/tinystories_sample_cs336.txt");
        var output = sample.Run(model, data);
        using var loaded = EngineModel.Load(model, new ModelOptions { Device = "cpu" });
        CheckRun(output, loaded.Info, requiredDrop: 0.3);
        Assert.Contains("generated 24 tokens: ", output); // a story model does not stop after a few tokens
    }

    private static void CheckRun(string output, ModelInfo info, double requiredDrop)
    {
        var losses = StepLine().Matches(output).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.True(losses.Count >= 3, $"expected progress lines:\n{output}");
        Assert.True(losses[^1] < losses[0] - requiredDrop, $"the loss did not fall by {requiredDrop}:\n{output}");

        var generated = GeneratedLine().Match(output);
        Assert.True(generated.Success, output);
        Assert.True(int.Parse(generated.Groups[1].Value, CultureInfo.InvariantCulture) > 0, output);
        Assert.False(string.IsNullOrWhiteSpace(generated.Groups[2].Value), output);

        var wrote = WroteLine().Match(output);
        Assert.True(wrote.Success, output);
        var path = wrote.Groups[1].Value;
        int expectedTensors = 2 + 9 * info.NumHiddenLayers + (info.TieWordEmbeddings ? 0 : 1);
        Assert.Equal(expectedTensors, int.Parse(wrote.Groups[2].Value, CultureInfo.InvariantCulture));
        using var gguf = GgufFile.Open(path);
        Assert.Equal(3u, gguf.Version);
        Assert.Equal(expectedTensors, gguf.Tensors.Count);
        Assert.Equal(GgmlType.Q8_0, gguf.TensorInfo("blk.0.attn_q.weight").Type);
    }

    private static (HashSet<string> Files, XElement Nuspec) ReadPackage(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var files = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        using var s = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        return (files, XElement.Load(s));
    }

    private static string? Field(XElement nuspec, string name) =>
        nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value;

    [GeneratedRegex(@"^step \d+/\d+ loss ([0-9.]+)$", RegexOptions.Multiline)]
    private static partial Regex StepLine();

    [GeneratedRegex(@"^generated (\d+) tokens: (.*)$", RegexOptions.Multiline)]
    private static partial Regex GeneratedLine();

    [GeneratedRegex(@"^wrote (.+\.gguf) \((\d+) tensors", RegexOptions.Multiline)]
    private static partial Regex WroteLine();
}

/// <summary>Packs once and builds the sample once for the tests of <see cref="PackagedSampleTests"/>; a temp folder holds
/// the feed, the packages folder and the sample copy, so the repo is not modified (build outputs aside).</summary>
public sealed class PackedSample : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly Lazy<(string Feed, string SampleDir)> _prepared;

    public PackedSample() => _prepared = new(DoPrepare, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The version every assembly and package takes from Directory.Build.props.</summary>
    public string Version { get; } = typeof(EngineModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!
        .InformationalVersion.Split('+')[0];

    public (string Feed, string SampleDir) Prepare()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) Assert.Skip("packs with build.sh");
        return _prepared.Value;
    }

    /// <summary>Runs the built sample (dotnet run --no-build) in a fresh working folder (it writes embedding-out/ there)
    /// and returns its output; a non-zero exit fails.</summary>
    public string Run(params string[] args)
    {
        var project = Path.Combine(Prepare().SampleDir, "Embedding.csproj");
        var work = Directory.CreateDirectory(Path.Combine(_tmp.Path, "run-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        return Dotnet(work, TimeSpan.FromMinutes(5), ["run", "--project", project, "-c", "Release", "--no-build", "--", .. args]);
    }

    private (string, string) DoPrepare()
    {
        var repo = RepoRoot();
        var feed = Path.Combine(_tmp.Path, "feed");
        Exec("bash", repo, TimeSpan.FromMinutes(8), ["build.sh", "pack", feed]);

        var sampleDir = Path.Combine(_tmp.Path, "Embedding");
        Directory.CreateDirectory(sampleDir);
        foreach (var file in new[] { "Program.cs", "Embedding.csproj" })
            File.Copy(Path.Combine(repo, "samples", "Embedding", file), Path.Combine(sampleDir, file));
        // The Engine packages come only from the new feed; third-party dependencies from nuget.org.
        File.WriteAllText(Path.Combine(sampleDir, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="packed" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="packed"><package pattern="Engine" /><package pattern="Engine.*" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        var version = $"-p:EngineVersion={Version}";
        Dotnet(sampleDir, TimeSpan.FromMinutes(5), ["restore", "--packages", Path.Combine(_tmp.Path, "packages"), version]);
        Dotnet(sampleDir, TimeSpan.FromMinutes(5), ["build", "-c", "Release", "--no-restore", version]);
        return (feed, sampleDir);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "build.sh")) && File.Exists(Path.Combine(dir.FullName, "samples", "Embedding", "Program.cs")))
                return dir.FullName;
        throw new InvalidOperationException($"no repository root (build.sh, samples/Embedding) above {AppContext.BaseDirectory}");
    }

    private static string Dotnet(string dir, TimeSpan timeout, string[] args) => Exec("dotnet", dir, timeout, args);

    /// <summary>Runs a child process with no build servers or reused MSBuild nodes (they would outlive it and hold its
    /// output open) and returns stdout; a non-zero exit or a timeout fails with everything it printed.</summary>
    private static string Exec(string file, string dir, TimeSpan timeout, string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["UseSharedCompilation"] = "false";
        psi.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        bool timedOut = !p.WaitForExit(timeout);
        if (timedOut) p.Kill(entireProcessTree: true);
        p.WaitForExit();
        var all = $"{file} {string.Join(' ', args)} (in {dir}):\n{stdout.Result}\n{stderr.Result}";
        Assert.False(timedOut, $"timed out after {timeout}: {all}");
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {all}");
        return stdout.Result;
    }

    public void Dispose() => _tmp.Dispose();
}
